"""Read what a Distributed Map's ResultWriter wrote: manifest.json and every result file it lists.

A result record (Transformation NONE) carries `Input` and `Output` as JSON *strings*; failed records
carry `Error` and `Cause`. JSON Lines files (OutputType JSONL) are streamed line by line.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

ResultKind = Literal["SUCCEEDED", "FAILED", "PENDING"]
KINDS: tuple[ResultKind, ...] = ("SUCCEEDED", "FAILED", "PENDING")


class CorruptResultsError(ValueError):
    """A result file cannot be read: the run cannot be proven complete."""


@dataclass(frozen=True)
class ResultRecord:
    kind: ResultKind
    status: str
    input: Any | None  # parsed; None when not included
    output: Any | None
    error: str | None
    cause: str | None


def find_manifest(s3_client, bucket: str, prefix: str) -> str | None:
    """The newest ResultWriter manifest under `prefix` (one per map run; a redrive writes anew)."""
    newest: tuple[Any, str] | None = None
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            is_manifest = obj["Key"].endswith("/manifest.json")
            if is_manifest and (newest is None or obj["LastModified"] > newest[0]):
                newest = (obj["LastModified"], obj["Key"])
    return newest[1] if newest else None


def read_manifest(s3_client, bucket: str, key: str) -> dict[str, Any]:
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        manifest = json.loads(body)
        manifest["ResultFiles"]
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptResultsError(f"s3://{bucket}/{key} is not a ResultWriter manifest: {error}") from None
    return manifest


def iter_records(s3_client, manifest: dict[str, Any]) -> Iterator[ResultRecord]:
    bucket = manifest["DestinationBucket"]
    for kind in KINDS:
        for entry in manifest["ResultFiles"].get(kind, []):
            for raw in _iter_file(s3_client, bucket, entry["Key"]):
                yield _record(kind, raw, entry["Key"])


def _iter_file(s3_client, bucket: str, key: str) -> Iterator[dict[str, Any]]:
    lines = s3_client.get_object(Bucket=bucket, Key=key)["Body"].iter_lines(chunk_size=1 << 20)
    first = next(lines, b"")
    if first.lstrip().startswith(b"["):  # OutputType JSON: one array, decoded whole
        try:
            records = json.loads(b"\n".join([first, *lines]))
        except ValueError as error:
            raise CorruptResultsError(f"{key}: {error}") from None
        if not isinstance(records, list):
            raise CorruptResultsError(f"{key}: not a JSON array")
        yield from records
        return
    for number, line in enumerate(itertools.chain([first], lines), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as error:
            raise CorruptResultsError(f"{key} line {number}: {error}") from None


def _record(kind: ResultKind, raw: Any, key: str) -> ResultRecord:
    if not isinstance(raw, dict) or "Status" not in raw:
        raise CorruptResultsError(f"{key}: a record lacks Status")
    try:
        return ResultRecord(
            kind=kind,
            status=raw["Status"],
            input=_included(raw, "Input"),
            output=_included(raw, "Output"),
            error=raw.get("Error"),
            cause=raw.get("Cause"),
        )
    except ValueError as error:
        raise CorruptResultsError(f"{key}: {error}") from None


def _included(raw: dict[str, Any], field: str) -> Any | None:
    details = raw.get(f"{field}Details") or {}
    value = raw.get(field)
    if details.get("Included") is False or value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value
