"""A batch's Parquet files in bounded memory: one per partition for all its objects, rows spilled to
disk come back in order, nothing is left behind on success or failure, and a large file goes up in parts."""

from __future__ import annotations

import gzip
import io
import json
import os
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from landfall.core.layout import curated_key
from landfall.core.writers import put_requests
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.jobs.events import EventsJob
from landfall.process.columnar import Source
from landfall.process.curated import BatchFiles, Budget, ObjectRows
from landfall.process.decoding import decode_block
from landfall.process.folding import Folded, fold
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.table.schema import PARQUET_FIELD_ID, table_of
from tests.tables import parquet_rows

LINE = '{"event_id":"e%d","ts":"2026-11-22T%02d:%02d:00Z","type":"click","value":%d,"props":{"n":%d}}'
TABLE = table_of(EventsJob())
HOURS = ["dt=2026-11-22/hour=12", "dt=2026-11-22/hour=13", "dt=2026-11-22/hour=14"]


@pytest.fixture
def buckets(s3):
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    return s3


def messages(count: int, per_message: int = 500) -> list[bytes]:
    """Messages of lines spread over three hours, in line order."""
    return [
        "\n".join(LINE % (n, 12 + n % 3, n % 60, n, n) for n in range(m * per_message, (m + 1) * per_message)).encode()
        + b"\n"
        for m in range(count)
    ]


def folded(data: bytes, first_line: int, source: Source) -> Folded:
    job = EventsJob()
    return fold(job, decode_block(job, data, first_line).segments, source)


def batch_files(s3, budget: Budget, spill_dir: Path | None = None) -> BatchFiles:
    key_of = partial(curated_key, "events", "run", batch_id="batch")
    return BatchFiles(s3, "pipeline", TABLE, key_of, budget, spill_dir=str(spill_dir) if spill_dir else None)


def add_messages(rows: ObjectRows, key: str, count: int) -> None:
    """`count` messages of the object `key`, its lines numbered from 1."""
    source, first = Source("landing", key), 1
    for data in messages(count):
        for path, batch in folded(data, first, source).partitions:
            rows.add(path, batch)
        first += data.count(b"\n")


def write(buckets, budget: Budget, spill_dir: Path, keys: tuple[str, ...] = ("raw/a.gz",)) -> list:
    files = batch_files(buckets, budget, spill_dir)
    for key in keys:
        rows = files.object_rows()
        add_messages(rows, key, 12)
        files.adopt(rows)
    return files.write()


def spilled_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_spilled_rows_make_the_same_files_as_rows_kept_in_memory(buckets, tmp_path):
    roomy, tight = Budget(1 << 30), Budget(64 << 10)  # the tight one spills at every message
    kept = write(buckets, roomy, tmp_path / "roomy")
    kept_rows = [parquet_rows(buckets, "pipeline", [f.key]) for f in kept]  # the same keys: read before overwritten
    spilled = write(buckets, tight, tmp_path / "tight")
    assert [(f.rows, f.partition) for f in kept] == [(f.rows, f.partition) for f in spilled]
    assert [parquet_rows(buckets, "pipeline", [f.key]) for f in spilled] == kept_rows
    rows = [r["source_line"] for f in spilled for r in parquet_rows(buckets, "pipeline", [f.key])]
    assert sorted(rows) == list(range(1, 6001)) and sum(f.rows for f in spilled) == 6000
    assert spilled_files(tmp_path) == []  # spills are gone
    assert (roomy._used, tight._used) == (0, 0)  # every byte held was given back


def test_several_objects_spilled_across_partitions_arrive_whole_and_in_order_per_object(buckets, tmp_path):
    budget, keys = Budget(64 << 10), ("raw/a.gz", "raw/b.gz", "raw/c.gz")
    files = batch_files(buckets, budget, tmp_path)
    objects = [files.object_rows() for _ in keys]
    for number, data in enumerate(messages(12)):  # the objects' messages interleave, as on threads
        for key, rows in zip(keys, objects, strict=True):
            if key != "raw/a.gz" or number < 6:  # a is done after 6: its rows are the batch's, spilled as others add
                for path, batch in folded(data, 1 + number * 500, Source("landing", key)).partitions:
                    rows.add(path, batch)
        if number == 5:
            files.adopt(objects[0])
    files.adopt(objects[2])
    files.adopt(objects[1])
    written = files.write()
    assert [f.partition for f in written] == HOURS and sum(f.rows for f in written) == 3000 + 2 * 6000
    for file in written:
        rows = parquet_rows(buckets, "pipeline", [file.key])
        lines = {key: [r["source_line"] for r in rows if r["source_key"] == key] for key in keys}
        assert [len(lines[key]) for key in keys] == [1000, 2000, 2000] and len(rows) == file.rows
        assert all(numbers == sorted(numbers) for numbers in lines.values())  # each object's rows in line order
    every = sorted(r["source_line"] for f in written for r in parquet_rows(buckets, "pipeline", [f.key]))
    assert every == sorted([*range(1, 3001), *range(1, 6001), *range(1, 6001)])
    assert spilled_files(tmp_path) == [] and budget._used == 0


def test_the_rows_of_finished_objects_spill_when_they_fill_the_budget_and_keep_their_order(buckets, tmp_path):
    budget = Budget(170 << 10)  # a message is ~40 KB of rows over three hours
    files = batch_files(buckets, budget, tmp_path)
    for key in ("raw/a.gz", "raw/b.gz"):
        rows = files.object_rows()
        add_messages(rows, key, 2)  # within the budget: held in memory when the batch adopts them
        files.adopt(rows)
    assert spilled_files(tmp_path) == [] and budget._used > 150 << 10
    last = files.object_rows()
    add_messages(last, "raw/c.gz", 1)  # over at its second hour: c spills its rows, the batch a's and b's
    (hour14,) = [p for p in last._partitions.values() if p.held]  # c's last batch, added after the spill
    assert budget._used == hour14.held and len(spilled_files(tmp_path)) == 2 + 3  # a's and b's in one per hour
    files.adopt(last)
    every = []
    for file in files.write():
        rows = [(r["source_key"], r["source_line"]) for r in parquet_rows(buckets, "pipeline", [file.key])]
        assert rows == sorted(rows)  # a's rows, then b's, then c's (the order they finished), each in line order
        every += rows
    lines = {"raw/a.gz": 1000, "raw/b.gz": 1000, "raw/c.gz": 500}
    assert sorted(every) == [(key, line) for key, count in lines.items() for line in range(1, count + 1)]
    assert spilled_files(tmp_path) == [] and budget._used == 0


def test_each_file_below_the_single_put_size_is_one_put(buckets):
    files = write(buckets, Budget(1 << 30), Path("unused"), keys=("raw/a.gz", "raw/b.gz"))
    assert [f.key for f in files] == [curated_key("events", "run", hour, "batch") for hour in HOURS]
    assert [f.rows for f in files] == [4000, 4000, 4000]
    assert buckets.list_multipart_uploads(Bucket="pipeline").get("Uploads", []) == []


def test_a_file_larger_than_a_single_put_goes_up_in_parts(buckets, monkeypatch):
    monkeypatch.setattr("landfall.process.curated.CURATED_PART_BYTES", 5 << 20)  # S3's smallest part
    monkeypatch.setattr("landfall.process.curated.CURATED_SINGLE_PUT_BYTES", 5 << 20)
    files = batch_files(buckets, Budget(1 << 30))
    rows = files.object_rows()
    lines = "\n".join(LINE.replace('"e%d"', f'"{os.urandom(24).hex()}"') % (12, n % 60, n, n) for n in range(200_000))
    for path, batch in folded(lines.encode(), 1, Source("landing", "raw/a.gz")).partitions:
        rows.add(path, batch)
    files.adopt(rows)
    (file,) = files.write()
    assert file.bytes > 5 << 20 and files.requests == put_requests(file.bytes, 5 << 20) > 3  # create, parts, complete
    assert len(parquet_rows(buckets, "pipeline", [file.key])) == 200_000
    assert buckets.list_multipart_uploads(Bucket="pipeline").get("Uploads", []) == []


def test_an_aborted_object_adds_no_row_and_leaves_no_spill(buckets, tmp_path):
    budget = Budget(64 << 10)
    files = batch_files(buckets, budget, tmp_path)
    kept, aborted = files.object_rows(), files.object_rows()
    add_messages(kept, "raw/kept.gz", 2)
    add_messages(aborted, "raw/aborted.gz", 4)
    assert spilled_files(tmp_path)  # both spilled
    aborted.abort()
    files.adopt(kept)
    written = files.write()
    assert {r["source_key"] for f in written for r in parquet_rows(buckets, "pipeline", [f.key])} == {"raw/kept.gz"}
    assert spilled_files(tmp_path) == [] and budget._used == 0


class FailingSecondPut:
    """An S3 client whose second PUT fails: a batch's writing stopped midway, one file written."""

    def __init__(self, client):
        self._client, self.puts = client, 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **kwargs):
        self.puts += 1
        if self.puts == 2:
            raise OSError("the network went away")
        return self._client.put_object(**kwargs)


def test_an_aborted_batch_removes_the_files_it_wrote_and_its_spills(buckets, tmp_path):
    budget = Budget(64 << 10)
    failing = FailingSecondPut(buckets)
    files = batch_files(failing, budget, tmp_path)
    rows = files.object_rows()
    add_messages(rows, "raw/a.gz", 4)
    files.adopt(rows)
    with pytest.raises(OSError, match="went away"):
        files.write()
    assert buckets.list_objects_v2(Bucket="pipeline")["KeyCount"] == 1  # the first file is complete
    assert files.abort() == 0
    assert buckets.list_objects_v2(Bucket="pipeline").get("KeyCount") == 0
    assert spilled_files(tmp_path) == [] and budget._used == 0


def test_each_file_carries_the_iceberg_field_ids_of_the_tables_columns(buckets, tmp_path):
    (file, *_) = write(buckets, Budget(64 << 10), tmp_path)  # spilled rows too: the ids survive the disk
    parquet = pq.ParquetFile(io.BytesIO(buckets.get_object(Bucket="pipeline", Key=file.key)["Body"].read()))
    expected = {column.name: str(column.field_id).encode() for column in TABLE.columns}
    assert {name: parquet.schema_arrow.field(name).metadata[PARQUET_FIELD_ID.encode()] for name in expected} == expected
    assert sorted(int(v) for v in expected.values()) == list(range(1, len(expected) + 1))


def test_the_processor_spills_a_large_object_and_its_memory_stays_bounded(buckets, tmp_path):
    body = gzip.compress(b"".join(messages(40)))
    buckets.put_object(Bucket="landing", Key="raw/big.gz", Body=body)
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="r", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key="raw/big.gz", size=len(body))],
    )
    settings = ProcessorSettings(CURATED_BUFFER_MIB=1, SPILL_DIR=str(tmp_path), SMALL_OBJECT_BYTES=0)
    summary = process_batch(event, buckets, settings, default_job())
    (obj,) = summary.objects
    assert (obj.valid, sum(obj.rows_by_partition.values()), sum(f.rows for f in summary.files)) == (20_000,) * 3
    rows = parquet_rows(buckets, "pipeline", [f.key for f in summary.files])
    assert sorted(r["source_line"] for r in rows) == list(range(1, 20_001))
    assert json.loads(rows[0]["props"]) == {"n": rows[0]["value"]}
    assert spilled_files(tmp_path) == []


def test_columns_that_rarely_repeat_are_written_without_a_dictionary_and_instants_delta_encoded(buckets):
    files = batch_files(buckets, Budget(1 << 30))
    rows = files.object_rows()
    for path, batch in folded(messages(1)[0], 1, Source("landing", "raw/a.gz")).partitions:
        rows.add(path, batch)
    files.adopt(rows)
    body = buckets.get_object(Bucket="pipeline", Key=files.write()[0].key)["Body"].read()
    group = pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0)
    chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    for name in ("event_id", "props", "ts", "source_line"):  # the record key, JSON text, an instant, line numbers
        assert not chunks[name].has_dictionary_page, name
    for name in ("ts", "source_line"):
        assert "DELTA_BINARY_PACKED" in chunks[name].encodings, name
    for name in ("type", "user_id", "source_key"):  # values that repeat keep their dictionary
        assert chunks[name].has_dictionary_page, name
