"""The data files a run wrote that no batch's result names: a batch stopped (a timeout, a crash of its
Lambda) after writing them and before it could remove them. No snapshot holds them, so no reader sees
them; the report names them so that they can be deleted. The reducer does not delete them itself: a
batch Step Functions gave up on may still be running, and write them again after the reducer looked.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from landfall.core.layout import run_data_prefix
from landfall.reduce.messages import OrphanedFiles

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NAMED = 1000  # keys in the report; a run whose every batch crashed has them all under one prefix anyway


def orphaned_files(s3_client: S3Client, bucket: str, table: str, run_id: str, named: Collection[str]) -> OrphanedFiles:
    """The run's data files (one listing of its prefix) that are not among the `named` ones."""
    prefix = run_data_prefix(table, run_id)
    found = OrphanedFiles(prefix=prefix)
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            if entry["Key"] in named:
                continue
            found.count += 1
            found.bytes += entry["Size"]
            if len(found.keys) < NAMED:
                found.keys.append(entry["Key"])
    return found
