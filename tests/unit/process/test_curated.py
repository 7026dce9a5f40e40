"""An object's Parquet files in bounded memory: rows spilled to disk come back in order, nothing is
left behind on success or failure, and a large file goes up in parts."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from landfall.core.writers import put_requests
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.jobs.events import EventsJob
from landfall.process.columnar import Source
from landfall.process.curated import Budget, CuratedOutput
from landfall.process.decoding import decode_block
from landfall.process.folding import Folded, fold
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.table.schema import table_of
from tests.tables import parquet_rows

LINE = '{"event_id":"e%d","ts":"2026-11-22T%02d:%02d:00Z","type":"click","value":%d,"props":{"n":%d}}'
TABLE = table_of(EventsJob())


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


def write(buckets, budget: Budget, spill_dir: Path, source_id: str) -> list:
    output = CuratedOutput(buckets, "pipeline", TABLE, source_id, budget, spill_dir=str(spill_dir))
    source = Source("landing", "raw/a.gz")
    first = 1
    for data in messages(12):
        for path, batch in folded(data, first, source).partitions:
            output.add(path, batch)
        first += data.count(b"\n")
    return output.finish()


def test_spilled_rows_make_the_same_files_as_rows_kept_in_memory(buckets, tmp_path):
    roomy, tight = Budget(1 << 30), Budget(64 << 10)  # the tight one spills at every message
    kept = write(buckets, roomy, tmp_path / "roomy", "kept")
    spilled = write(buckets, tight, tmp_path / "tight", "spilled")
    assert [(f.rows, f.key.split("/")[3]) for f in kept] == [(f.rows, f.key.split("/")[3]) for f in spilled]
    for a, b in zip(kept, spilled, strict=True):
        assert parquet_rows(buckets, "pipeline", [a.key]) == parquet_rows(buckets, "pipeline", [b.key])
    rows = [r["source_line"] for f in spilled for r in parquet_rows(buckets, "pipeline", [f.key])]
    assert sorted(rows) == list(range(1, 6001)) and sum(f.rows for f in spilled) == 6000
    assert [p for p in (tmp_path / "tight").rglob("*") if p.is_file()] == []  # spills are gone
    assert (roomy._used, tight._used) == (0, 0)  # every byte held was given back


def test_each_file_below_the_single_put_size_is_one_put(buckets):
    output = CuratedOutput(buckets, "pipeline", TABLE, "puts", Budget(1 << 30))
    for data in messages(12):
        for path, batch in folded(data, 1, Source("landing", "raw/a.gz")).partitions:
            output.add(path, batch)
    files = output.finish()
    assert len(files) == 3 and output.requests == 3
    assert buckets.list_multipart_uploads(Bucket="pipeline").get("Uploads", []) == []


def test_a_file_larger_than_a_single_put_goes_up_in_parts(buckets, monkeypatch):
    monkeypatch.setattr("landfall.process.curated.CURATED_PART_BYTES", 5 << 20)  # S3's smallest part
    monkeypatch.setattr("landfall.process.curated.CURATED_SINGLE_PUT_BYTES", 5 << 20)
    output = CuratedOutput(buckets, "pipeline", TABLE, "parts", Budget(1 << 30))
    lines = "\n".join(LINE.replace('"e%d"', f'"{os.urandom(24).hex()}"') % (12, n % 60, n, n) for n in range(200_000))
    for path, batch in folded(lines.encode(), 1, Source("landing", "raw/a.gz")).partitions:
        output.add(path, batch)
    (file,) = output.finish()
    assert file.bytes > 5 << 20 and output.requests == put_requests(file.bytes, 5 << 20) > 3  # create, parts, complete
    assert len(parquet_rows(buckets, "pipeline", [file.key])) == 200_000
    assert buckets.list_multipart_uploads(Bucket="pipeline").get("Uploads", []) == []


def test_an_aborted_object_leaves_no_file_no_upload_and_no_spill(buckets, tmp_path):
    budget = Budget(64 << 10)
    output = CuratedOutput(buckets, "pipeline", TABLE, "aborted", budget, spill_dir=str(tmp_path))
    for data in messages(4):
        for path, batch in folded(data, 1, Source("landing", "raw/a.gz")).partitions:
            output.add(path, batch)
    output._write(output._partitions[sorted(output._partitions)[0]])  # one file is complete already
    output.abort()
    assert buckets.list_objects_v2(Bucket="pipeline").get("KeyCount") == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [] and budget._used == 0


def test_the_processor_spills_a_large_object_and_its_memory_stays_bounded(buckets, tmp_path):
    body = gzip.compress(b"".join(messages(40)))
    buckets.put_object(Bucket="landing", Key="raw/big.gz", Body=body)
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="r", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key="raw/big.gz", size=len(body))],
    )
    settings = ProcessorSettings(CURATED_BUFFER_MIB=1, SPILL_DIR=str(tmp_path), SMALL_OBJECT_BYTES=0)
    (obj,) = process_batch(event, buckets, settings, default_job()).objects
    assert (obj.valid, sum(f.rows for f in obj.curated)) == (20_000, 20_000)
    rows = parquet_rows(buckets, "pipeline", [f.key for f in obj.curated])
    assert sorted(r["source_line"] for r in rows) == list(range(1, 20_001))
    assert json.loads(rows[0]["props"]) == {"n": rows[0]["value"]}


def test_columns_that_rarely_repeat_are_written_without_a_dictionary_and_instants_delta_encoded(buckets):
    output = CuratedOutput(buckets, "pipeline", TABLE, "encodings", Budget(1 << 30))
    for path, batch in folded(messages(1)[0], 1, Source("landing", "raw/a.gz")).partitions:
        output.add(path, batch)
    body = buckets.get_object(Bucket="pipeline", Key=output.finish()[0].key)["Body"].read()
    group = pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0)
    chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    for name in ("event_id", "props", "ts", "source_line"):  # the record key, JSON text, an instant, line numbers
        assert not chunks[name].has_dictionary_page, name
    for name in ("ts", "source_line"):
        assert "DELTA_BINARY_PACKED" in chunks[name].encodings, name
    for name in ("type", "user_id", "source_key"):  # values that repeat keep their dictionary
        assert chunks[name].has_dictionary_page, name
