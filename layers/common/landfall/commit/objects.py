"""Which object versions the table holds: each snapshot names an index of every object version committed
up to it (8-byte digests, sorted: 8 MB per million objects), written with the snapshot, so the check
and the commit are one atomic step. A run that finds an object version in the index commits none of
its rows again, however often the object was processed (a second backfill of a prefix, a run started
twice, a notification delivered twice).
"""

from __future__ import annotations

import gzip
import heapq
import io
import json
import tempfile
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from landfall.core.layout import object_digest
from landfall.process.messages import CuratedFile, ObjectSummary

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
    from pyiceberg.table import Table

INDEX = "landfall.objects-index"  # the snapshot summary property: where its index is


class TableMissing(LookupError):
    """The table a run commits to is not in the catalog (the stack's Catalog resource makes it)."""


@dataclass(frozen=True, slots=True)
class RunFile:
    """A data file of the run, and the object versions (digests) whose rows it holds: the reducer keeps one
    per batch and partition of the run, so it holds plain values (a message model weighs ten times more)."""

    key: str
    rows: int
    bytes: int
    partition: str
    objects: tuple[int, ...]

    @classmethod
    def of(cls, file: CuratedFile, objects: tuple[int, ...]) -> RunFile:
        return cls(file.key, file.rows, file.bytes, file.partition, objects)


class RunFiles(Protocol):
    """A run's files, as often as they are read (a list, or a `FileSpool`)."""

    def __iter__(self) -> Iterator[RunFile]: ...

    def __len__(self) -> int: ...


class FileSpool:
    """A run's files spooled to a temporary file as the batches' results come (a line each), read back
    in order as often as needed: the reducer's memory does not grow with the run's batches."""

    def __init__(self, folder: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed by close()
        self._count = 0

    def extend(self, files: Iterable[RunFile]) -> None:
        self._file.seek(0, io.SEEK_END)
        for file in files:
            self._file.write(_ENCODER.encode((file.key, file.rows, file.bytes, file.partition, file.objects)) + b"\n")
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[RunFile]:
        self._file.seek(0)
        for line in self._file:
            key, rows, size, partition, objects = _DECODER.decode(line)
            yield RunFile(key, rows, size, partition, tuple(objects))

    def close(self) -> None:
        self._file.close()


_ENCODER, _DECODER = msgspec.json.Encoder(), msgspec.json.Decoder(tuple[str, int, int, str, list[int]])


def run_files(files: Iterable[CuratedFile], objects: Iterable[ObjectSummary]) -> list[RunFile]:
    """A batch's files, each with the objects of the batch that wrote rows into its partition."""
    holding: dict[str, list[int]] = {}
    for obj in objects:
        digest = object_digest(obj.bucket, obj.key, obj.version_id)
        for partition, rows in obj.rows_by_partition.items():
            if rows:
                holding.setdefault(partition, []).append(digest)
    return [RunFile.of(file, tuple(holding.get(file.partition, ()))) for file in files]


class ObjectIndex:
    def __init__(self, digests: array[int] | None = None) -> None:
        self.digests = digests if digests is not None else array("Q")  # sorted, distinct

    def __len__(self) -> int:
        return len(self.digests)

    def __contains__(self, digest: int) -> bool:
        position = bisect_left(self.digests, digest)
        return position < len(self.digests) and self.digests[position] == digest

    def with_objects(self, digests: Iterable[int]) -> ObjectIndex:
        """This index and `digests`, merged in order: memory stays 8 bytes an object (a set would be ~60)."""
        merged = array("Q")
        last = -1
        for digest in heapq.merge(self.digests, sorted(set(digests))):
            if digest != last:
                merged.append(digest)
                last = digest
        return ObjectIndex(merged)

    def to_bytes(self) -> bytes:
        return self.digests.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ObjectIndex:
        digests = array("Q")
        digests.frombytes(data)
        return cls(digests)


def current_index(table: Table) -> ObjectIndex:
    """The index the table's current snapshot names (empty: no snapshot, or none named)."""
    snapshot = table.current_snapshot()
    location = snapshot.summary.additional_properties.get(INDEX) if snapshot and snapshot.summary else None
    if location is None:
        return ObjectIndex()
    with table.io.new_input(location).open() as stream:
        return ObjectIndex.from_bytes(stream.read())


def committed_objects(glue_client: GlueClient, s3_client: S3Client, database: str, table: str) -> ObjectIndex:
    """The index of the table's current snapshot, read with three plain requests (Glue's entry, the
    metadata file, the index), no Iceberg library: what a backfill leaves out before anything runs.
    Empty when there is no such table or snapshot yet."""
    try:
        entry = glue_client.get_table(DatabaseName=database, Name=table)["Table"]
    except glue_client.exceptions.EntityNotFoundException:
        return ObjectIndex()
    location = entry.get("Parameters", {}).get("metadata_location")
    if not location:
        return ObjectIndex()
    metadata = json.loads(_read(s3_client, location))
    current = metadata.get("current-snapshot-id")
    snapshot: dict[str, Any] = next((s for s in metadata.get("snapshots", []) if s.get("snapshot-id") == current), {})
    index = snapshot.get("summary", {}).get(INDEX)
    return ObjectIndex.from_bytes(_read(s3_client, index)) if index else ObjectIndex()


def _read(s3_client: S3Client, location: str) -> bytes:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body  # metadata may be gzipped (.gz.metadata.json)


def write_index(table: Table, index: ObjectIndex) -> str:
    """A new index file beside the table's metadata; its location (a failed commit leaves it unnamed)."""
    location = f"{table.location()}/metadata/landfall-objects-{uuid.uuid4()}.bin"
    with table.io.new_output(location).create() as stream:
        stream.write(index.to_bytes())
    return location
