"""One object's share of the curated table: a Parquet file (zstd) per partition, in bounded memory.

Rows arrive a message at a time, in any partition, and are held as Arrow batches. When the batches of
all objects in flight pass the budget, the object that adds to them spills its own to local disk as
Arrow IPC streams — the files are written when the object is done, one partition at a time,
each read back from disk and memory in order and streamed into a multipart upload, so memory holds a
row group and a part or two whatever the object's size or its number of partitions. A file's key
names the object version and the partition: processing the object again overwrites it.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from arro3.core import RecordBatch, RecordBatchReader
from arro3.io import read_ipc_stream, write_ipc_stream, write_parquet

from landfall.core.layout import curated_key
from landfall.core.writers import Background, S3ObjectWriter
from landfall.process.messages import CuratedFile
from landfall.table.schema import Kind, TableSchema

if TYPE_CHECKING:
    from arro3.io._parquet import ParquetEncoding
    from mypy_boto3_s3 import S3Client

# A file below 64 MiB goes up in one PUT where a multipart upload took four requests or more: an hour of a
# 64 MB Firehose object is at most ~45 MB of Parquet, and an object's records mostly fall in one hour.
# Larger files continue in 8 MiB parts (measured, 16 MiB parts made peak memory grow with the object:
# the upload queue holds several)
CURATED_SINGLE_PUT_BYTES = 64 * 1024 * 1024
CURATED_PART_BYTES = 8 * 1024 * 1024
ROW_GROUP_ROWS = 512 * 1024  # measured: smaller groups cost a fifth more time to write; the writer holds one, encoded


def write_parquet_file(table: TableSchema, batches: RecordBatchReader, file: IO[bytes] | io.RawIOBase) -> None:
    """The curated table's Parquet: zstd level 1 (measured: higher levels cost a third more time for 2 %
    smaller files), each column encoded as its values repeat (`column_encodings`), and no Arrow schema
    stored: every reader takes the Parquet types (UTC timestamps, strings) as they are."""
    encodings, dictionaries = column_encodings(table)
    write_parquet(
        batches,
        cast(IO[bytes], file),
        compression="zstd(1)",
        max_row_group_size=ROW_GROUP_ROWS,
        skip_arrow_metadata=True,
        column_encoding=encodings,
        column_dictionary_enabled=dictionaries,
    )


_Columns = str | Sequence[str]  # arro3's key: a column's name, or a nested column's path


def column_encodings(table: TableSchema) -> tuple[dict[_Columns, ParquetEncoding], dict[_Columns, bool]]:
    """Per column, the encoding and whether to try a dictionary. A dictionary pays for values that repeat
    (an event type, a user, the lineage); the record key (unique by declaration), JSON text and instants
    rarely repeat, and building a dictionary the writer then drops costs time. Instants and line numbers
    are delta-encoded (DELTA_BINARY_PACKED, read by Athena, DuckDB, Spark): neighbours differ little.
    Measured on 300,000 distinct events: 20 % less time to write, 5 % smaller files."""
    encodings: dict[_Columns, ParquetEncoding] = {"source_line": "delta_binary_packed"}
    dictionaries: dict[_Columns, bool] = {"source_line": False}
    for column in table.columns:
        if column.kind in (Kind.TIMESTAMP, Kind.LOCAL_TIMESTAMP):
            encodings[column.name], dictionaries[column.name] = "delta_binary_packed", False
        elif column.kind is Kind.JSON or column.name == table.key:
            dictionaries[column.name] = False
    return encodings, dictionaries


class Budget:
    """Bytes of batches held in memory by every object in flight (small objects run concurrently)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Count `size` more; whether the total is now over the limit."""
        with self._lock:
            self._used += size
            return self._used > self.limit

    def give_back(self, size: int) -> None:
        with self._lock:
            self._used -= size


@dataclass
class _Partition:
    path: str
    batches: list[RecordBatch] = field(default_factory=list)
    held: int = 0  # bytes of `batches`
    rows: int = 0
    spills: list[Path] = field(default_factory=list)

    def stream(self) -> Iterator[RecordBatch]:
        """Every batch in the order it came: the spilled ones first."""
        for spill in self.spills:
            yield from read_ipc_stream(str(spill))
            spill.unlink()
        yield from self.batches


class _Sink(io.RawIOBase):
    """A file the Parquet writer streams into; its bytes go to `write`."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._write(bytes(data))
        return len(data)


class CuratedOutput:
    """One object's files of the table: its rows held per partition (spilled past the budget), each
    partition's Parquet file written when the object ends."""

    def __init__(
        self,
        s3_client: S3Client,
        bucket: str,
        table: TableSchema,
        source_id: str,
        budget: Budget,
        uploads: Background | None = None,
        spill_dir: str | None = None,
    ) -> None:
        self.s3, self.bucket, self.table, self.source_id = s3_client, bucket, table, source_id
        self.budget, self.uploads, self._spill_root = budget, uploads, spill_dir
        self._partitions: dict[str, _Partition] = {}
        self._writers: list[S3ObjectWriter] = []
        self._spill_dir: Path | None = None

    @property
    def requests(self) -> int:
        """PUT-priced requests of the files written so far."""
        return sum(writer.requests for writer in self._writers)

    def add(self, path: str, batch: RecordBatch) -> None:
        partition = self._partitions.get(path)
        if partition is None:
            partition = self._partitions[path] = _Partition(path)
        size = batch.nbytes
        partition.batches.append(batch)
        partition.held += size
        partition.rows += batch.num_rows
        if self.budget.take(size):
            self._spill()

    def _spill(self) -> None:
        if self._spill_dir is None:
            if self._spill_root:
                Path(self._spill_root).mkdir(parents=True, exist_ok=True)
            self._spill_dir = Path(tempfile.mkdtemp(prefix="landfall-spill-", dir=self._spill_root))
        for number, partition in enumerate(self._partitions.values()):
            if not partition.batches:
                continue
            spill = self._spill_dir / f"{number}-{len(partition.spills)}.arrow"
            with spill.open("wb") as file:
                # uncompressed: measured, LZ4 took twice as long to write and read back, for 30 % less disk
                write_ipc_stream(
                    RecordBatchReader.from_batches(self.table.arrow_schema, partition.batches), file, compression=None
                )
            partition.spills.append(spill)
            partition.batches = []
            self.budget.give_back(partition.held)
            partition.held = 0

    def finish(self) -> list[CuratedFile]:
        """Write every partition's file, in the order of their paths."""
        try:
            return [self._write(self._partitions[path]) for path in sorted(self._partitions)]
        finally:
            self._release()

    def _write(self, partition: _Partition) -> CuratedFile:
        writer = S3ObjectWriter(
            self.s3,
            self.bucket,
            curated_key(self.table.name, partition.path, self.source_id),
            part_bytes=CURATED_PART_BYTES,
            uploads=self.uploads,
            single_put_bytes=CURATED_SINGLE_PUT_BYTES,
        )
        self._writers.append(writer)
        batches = RecordBatchReader.from_batches(self.table.arrow_schema, partition.stream())
        write_parquet_file(self.table, batches, _Sink(writer.write))
        writer.close()
        return CuratedFile(key=writer.key, rows=partition.rows, bytes=writer.bytes_written)

    def abort(self) -> None:
        """Leave nothing behind: no upload, no spill, no held bytes."""
        for writer in self._writers:
            writer.abort()
        self._release()

    def _release(self) -> None:
        held = sum(partition.held for partition in self._partitions.values())
        self._partitions.clear()
        self.budget.give_back(held)
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None
