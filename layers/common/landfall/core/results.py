"""Read what a Distributed Map's ResultWriter wrote: manifest.json and every result file it lists.

A result record (Transformation NONE) carries `Input` and `Output` as JSON *strings*, with
`InputDetails`/`OutputDetails.Included` false when they were left out; failed records carry `Error`
and `Cause`. Files are streamed whatever their size: JSON Lines (OutputType JSONL) line by line with
msgspec, a JSON array (OutputType JSON) element by element with ijson. A file that cannot be read is
a `CorruptResultsError`: the run cannot be proven complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import ijson
import msgspec

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ResultKind = Literal["SUCCEEDED", "FAILED", "PENDING"]
KINDS: tuple[ResultKind, ...] = ("SUCCEEDED", "FAILED", "PENDING")
_READ_BYTES = 1 << 20


class CorruptResultsError(ValueError):
    """A result file cannot be read: the run cannot be proven complete."""


class _Details(msgspec.Struct):
    Included: bool = True


class _RawRecord(msgspec.Struct):
    Status: str
    Input: str | None = None
    Output: str | None = None
    InputDetails: _Details | None = None
    OutputDetails: _Details | None = None
    Error: str | None = None
    Cause: str | None = None
    StartDate: str | None = None
    StopDate: str | None = None


_line_decoder = msgspec.json.Decoder(_RawRecord)


@dataclass(frozen=True)
class ResultRecord:
    kind: ResultKind
    status: str
    input: str | None  # JSON text; None when not included
    output: str | None
    error: str | None
    cause: str | None
    started: str | None = None  # ISO 8601, as the ResultWriter writes them; a PENDING child has none
    stopped: str | None = None


def find_manifest(s3_client: S3Client, bucket: str, prefix: str) -> str | None:
    """The newest ResultWriter manifest under `prefix` (one per map run; a redrive writes anew)."""
    newest: tuple[Any, str] | None = None
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            is_manifest = obj["Key"].endswith("/manifest.json")
            if is_manifest and (newest is None or obj["LastModified"] > newest[0]):
                newest = (obj["LastModified"], obj["Key"])
    return newest[1] if newest else None


def read_manifest(s3_client: S3Client, bucket: str, key: str) -> dict[str, Any]:
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        manifest = json.loads(body)
        manifest["ResultFiles"]
        manifest["DestinationBucket"]
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptResultsError(f"s3://{bucket}/{key} is not a ResultWriter manifest: {error}") from None
    return manifest


def iter_records(s3_client: S3Client, manifest: dict[str, Any]) -> Iterator[ResultRecord]:
    bucket = manifest["DestinationBucket"]
    for kind in KINDS:
        for entry in manifest["ResultFiles"].get(kind, []):
            body = s3_client.get_object(Bucket=bucket, Key=entry["Key"])["Body"]
            for raw in _iter_file(body, entry["Key"]):
                yield _record(kind, raw)


def _iter_file(body, key: str) -> Iterator[_RawRecord]:
    head = body.read(_READ_BYTES)
    if head.lstrip().startswith(b"["):
        yield from _iter_array(_Rewound(head, body), key)
    else:
        yield from _iter_lines(head, body, key)


def _iter_lines(head: bytes, body, key: str) -> Iterator[_RawRecord]:
    number = 0
    tail = b""
    chunk = head
    while chunk:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            number += 1
            if line.strip():
                yield _decode_line(line, key, number)
        chunk = body.read(_READ_BYTES)
    if tail.strip():
        yield _decode_line(tail, key, number + 1)


def _decode_line(line: bytes, key: str, number: int) -> _RawRecord:
    try:
        return _line_decoder.decode(line)
    except msgspec.DecodeError as error:
        raise CorruptResultsError(f"{key} line {number}: {error}") from None


def _iter_array(stream: _Rewound, key: str) -> Iterator[_RawRecord]:
    try:
        for element in ijson.items(stream, "item", use_float=True):
            try:
                yield msgspec.convert(element, _RawRecord)
            except msgspec.ValidationError as error:
                raise CorruptResultsError(f"{key}: a record is not a ResultWriter record: {error}") from None
    except ijson.JSONError as error:
        raise CorruptResultsError(f"{key}: {error}") from None


class _Rewound:
    """A file-like object that gives back the bytes already read, then the rest of the body."""

    def __init__(self, head: bytes, body) -> None:
        self._head, self._body = head, body

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing to learn whether the stream gives bytes
            return b""
        if self._head:
            data, self._head = self._head, b""
            return data
        return self._body.read(size if size and size > 0 else _READ_BYTES)


def _record(kind: ResultKind, raw: _RawRecord) -> ResultRecord:
    return ResultRecord(
        kind=kind,
        status=raw.Status,
        input=_included(raw.Input, raw.InputDetails),
        output=_included(raw.Output, raw.OutputDetails),
        error=raw.Error,
        cause=raw.Cause,
        started=raw.StartDate,
        stopped=raw.StopDate,
    )


def _included(value: str | None, details: _Details | None) -> str | None:
    if details is not None and not details.Included:
        return None
    return value
