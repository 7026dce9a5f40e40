"""An item's small files rewritten as files of about the target size, in bounded memory, by the
processor's own Parquet writer (zstd, field ids, the same encodings), so a compacted file is one the
processor could have written.

Input files are read one at a time: each is downloaded to local disk (one GET; arro3 would make a ranged
GET per column chunk of an object it reads in place) and streamed batch by batch into the output's
multipart upload. Memory holds a batch, the writer's row group and an upload part; disk holds one input
file (under the target). An output file ends once the input bytes its rows came from reach the target:
the same rows through the same writer take about as many bytes, and the writer's own count moves a whole
row group at a time.

Every row is counted: a file must give as many rows as its manifest says, and the outputs as many as the
inputs gave, else nothing written stays (the error names the file).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from arro3.core import Array, RecordBatch, RecordBatchReader, Schema
from arro3.io import read_parquet

from landfall.core.layout import curated_key
from landfall.core.writers import Background, S3ObjectWriter, Sink
from landfall.process.curated import write_parquet_file
from landfall.process.messages import CuratedFile
from landfall.table.schema import PARQUET_FIELD_ID

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from landfall.table.schema import TableSchema
    from landfall.upkeep.messages import CompactionItem, PlannedFile

READ_BATCH_ROWS = 64 * 1024  # arro3's default (1,024) costs a Python round trip per thousand rows
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


# Parts of 8 MiB from the first byte: the writer holds a part filling, one queued and one on the wire, so a
# compaction's memory stays the same whatever its files' size (measured: with the processor's 32 MiB parts
# it grew from 173 to 236 MB between a 18 MB and a 72 MB file). A compaction writes few files: the
# requests they cost more than the processor's would are a few hundredths of a cent a terabyte.
COMPACTION_PART_BYTES = 8 * 1024 * 1024


class RowsMismatch(RuntimeError):
    """The rows read are not the rows the table's metadata counts: the item is not committed."""


def split_path(path: str) -> tuple[str, str]:
    bucket, _, key = path.removeprefix("s3://").partition("/")
    return bucket, key


def _columns(source: Schema, table: TableSchema, path: str) -> list[int | None]:
    """For each of the table's columns, the file's column with its field id (None: the file predates it)."""
    by_id = {source.field(n).metadata.get(PARQUET_FIELD_ID.encode()): n for n in range(len(source))}
    chosen: list[int | None] = []
    for column in table.columns:
        found = by_id.get(str(column.field_id).encode())
        if found is None and not column.nullable:
            raise ValueError(
                f"{path} has no column {column.name} (field id {column.field_id}), which the table requires"
            )
        chosen.append(found)
    return chosen


def _conform(batch: RecordBatch, chosen: list[int | None], schema: Schema) -> RecordBatch:
    """The batch in the table's schema: columns by field id, typed as the processor types them (its
    dictionaries), nulls for a column added after the file was written."""
    arrays = []
    for index, field in zip(chosen, (schema.field(n) for n in range(len(schema))), strict=True):
        if index is None:
            arrays.append(Array([None] * batch.num_rows, field.type))
            continue
        array = batch.column(index)
        arrays.append(array if array.type == field.type else array.cast(field.type))
    return RecordBatch.from_arrays(arrays, schema=schema)


class ItemRows:
    """The item's rows, file after file, each batch with the input bytes it came from; every file's rows
    counted against its manifest. `failure` keeps what went wrong: the Parquet writer reports an error
    raised in its input as a plain Exception."""

    def __init__(self, s3_client: S3Client, item: CompactionItem, table: TableSchema, scratch: str | None) -> None:
        self.s3, self.item, self.table = s3_client, item, table
        self._scratch = tempfile.TemporaryDirectory(prefix="landfall-compaction-", dir=scratch)
        self.rows = 0
        self.failure: Exception | None = None

    def batches(self) -> Iterator[tuple[RecordBatch, int]]:
        try:
            for file in self.item.files:
                yield from self._file(file)
        except Exception as error:
            self.failure = error
            raise

    def _file(self, file: PlannedFile) -> Iterator[tuple[RecordBatch, int]]:
        local = self._download(file.path)
        reader = read_parquet(str(local), batch_size=READ_BATCH_ROWS)
        chosen, schema = _columns(reader.schema, self.table, file.path), self.table.arrow_schema
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            yield _conform(batch, chosen, schema), batch.num_rows * file.bytes // max(file.rows, 1)
        if rows != file.rows:
            raise RowsMismatch(f"{file.path} holds {rows} rows where the table's manifest counts {file.rows}")
        self.rows += rows
        local.unlink()

    def _download(self, path: str) -> Path:
        bucket, key = split_path(path)
        local = Path(self._scratch.name) / "input.parquet"
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        with local.open("wb") as file:
            for chunk in body.iter_chunks(DOWNLOAD_CHUNK_BYTES):
                file.write(chunk)
        return local

    def close(self) -> None:
        self._scratch.cleanup()


class _Rolling:
    """Batches handed out file by file: a file takes them until the input bytes they came from reach
    `target` (the last file takes what is left)."""

    def __init__(self, batches: Iterator[tuple[RecordBatch, int]], target: int) -> None:
        self._batches, self._target = batches, target
        self._next = next(batches, None)
        self.rows = 0  # of the file being handed out

    def __bool__(self) -> bool:
        return self._next is not None

    def file(self) -> Iterator[RecordBatch]:
        self.rows = taken = 0
        while self._next is not None and taken < self._target:
            batch, size = self._next
            self.rows += batch.num_rows
            taken += size
            yield batch
            self._next = next(self._batches, None)


class OutputFiles:
    """The item's new files, under the maintenance run's prefix; `abort` removes every one of them."""

    def __init__(self, s3_client: S3Client, item: CompactionItem, table: TableSchema) -> None:
        self.s3, self.item, self.table = s3_client, item, table
        self._name = uuid.uuid4().hex[:16]  # never a name already committed: a retried child writes new files
        self._writers: list[S3ObjectWriter] = []

    def write(self, batches: Iterator[tuple[RecordBatch, int]]) -> list[CuratedFile]:
        rolling = _Rolling(batches, self.item.target_bytes)
        uploads = Background(backlog=1)
        files: list[CuratedFile] = []
        try:
            while rolling:
                files.append(self._write_one(rolling, uploads))
        finally:
            uploads.close()
        return files

    def _write_one(self, rolling: _Rolling, uploads: Background) -> CuratedFile:
        key = curated_key(
            self.table.name, self.item.upkeep_id, self.item.partition, f"{self._name}-{len(self._writers)}"
        )
        writer = S3ObjectWriter(self.s3, self.item.bucket, key, part_bytes=COMPACTION_PART_BYTES, uploads=uploads)
        self._writers.append(writer)
        write_parquet_file(
            self.table, RecordBatchReader.from_batches(self.table.arrow_schema, rolling.file()), Sink(writer.write)
        )
        writer.close()
        return CuratedFile(key=key, rows=rolling.rows, bytes=writer.bytes_written, partition=self.item.partition)

    def abort(self) -> None:
        for writer in self._writers:
            writer.abort()
        self._writers.clear()


def rewrite_files(
    s3_client: S3Client, item: CompactionItem, table: TableSchema, scratch: str | None = None
) -> list[CuratedFile]:
    """The item's rows in new files of about its target size; raises RowsMismatch (leaving no file) when
    a count disagrees."""
    rows, outputs = ItemRows(s3_client, item, table, scratch), OutputFiles(s3_client, item, table)
    try:
        written = outputs.write(rows.batches())
        if (out := sum(file.rows for file in written)) != rows.rows:
            raise RowsMismatch(f"{item.partition}: {rows.rows} rows read, {out} written")
    except Exception as error:
        outputs.abort()
        if rows.failure is not None and rows.failure is not error:
            raise rows.failure from None
        raise
    finally:
        rows.close()
    return written


def discard(s3_client: S3Client, bucket: str, files: list[CuratedFile]) -> None:
    """Remove files written for a commit that did not happen."""
    for file in files:
        s3_client.delete_object(Bucket=bucket, Key=file.key)
