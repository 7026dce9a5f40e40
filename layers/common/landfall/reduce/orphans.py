"""The data files a run wrote that no batch's result names: a batch stopped (a timeout, a crash of its
Lambda) after writing them and before it could remove them. No snapshot holds them, so no reader sees
them; the report names them so that they can be deleted. The reducer does not delete them itself: a
batch Step Functions gave up on may still be running, and write them again after the reducer looked.
"""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Container, Iterable
from itertools import batched
from typing import TYPE_CHECKING

from landfall.core.layout import run_data_prefix
from landfall.reduce.messages import OrphanedFiles

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NAMED = 1000  # keys in the report; a run whose every batch crashed has them all under one prefix anyway


class KeySet(Container[str]):
    """The keys of a run's files as sorted 8-byte digests: 0.8 MB for 100,000 files (a set of the keys
    would be ~20 MB), so the reducer's memory does not grow with the run."""

    def __init__(self, keys: Iterable[str]) -> None:
        # sorted in pieces, then merged: never a list of every digest as Python ints
        chunks = [array("Q", sorted(map(_digest, chunk))) for chunk in batched(keys, 8192, strict=False)]
        self._digests = array("Q", heapq.merge(*chunks))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        digest = _digest(key)
        position = bisect_left(self._digests, digest)
        return position < len(self._digests) and self._digests[position] == digest


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest())


def orphaned_files(s3_client: S3Client, bucket: str, table: str, run_id: str, named: Container[str]) -> OrphanedFiles:
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
