"""A copy of the bucket's curated table made an Iceberg table of its own: every path local, every snapshot
kept, and opened by pyiceberg's own file IO from its metadata file (no mapping of the bucket's names)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import pytest
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import read_manifest_list
from pyiceberg.table import StaticTable, Table
from pyiceberg.types import StringType

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import commit_run, run_snapshot
from landfall.commit.definition import RUN_ID
from landfall.commit.objects import INDEX, run_files
from landfall.commit.tables import put_table
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.table.schema import table_of
from landfall_cli.demo import table_refusal
from landfall_cli.iceberg_copy import CopyError, live_files, localise
from landfall_cli.query import DESCRIPTION
from tests.paths import REPO_ROOT

EVENT = b'{"event_id":"%s","ts":"2026-11-22T1%d:00:00Z","type":"click","value":%d}'
RUNS = {  # run → its objects (key → events): two snapshots, the second listing the first's manifest too
    "r1": {"raw/a.gz": [EVENT % (b"a", 2, 1), EVENT % (b"b", 3, 2)], "raw/b.gz": [EVENT % (b"c", 2, 4)]},
    "r2": {"raw/c.gz": [EVENT % (b"d", 4, 8)]},
}


@pytest.fixture
def source(s3) -> Table:
    """The table as the reducer commits it (one snapshot a run), on moto's S3 and Glue."""
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "db"})
    catalog, table = TableCatalog(glue, s3), table_of(default_job())
    put_table(catalog, "db.events", table, "s3://pipeline/curated/events")
    for run_id, bodies in RUNS.items():
        for key, lines in bodies.items():
            s3.put_object(Bucket="landing", Key=key, Body=gzip.compress(b"\n".join(lines)))
        event = ProcessorEvent(
            batch_input=BatchInput(run_id=run_id, output_bucket="pipeline"),
            items=[ManifestItem(bucket="landing", key=key, size=1) for key in bodies],
        )
        summary = process_batch(event, s3, ProcessorSettings(), default_job())
        files = run_files(summary.files, summary.objects)
        commit_run(catalog, "db.events", run_id, files, ("pipeline", table.partitioning))
    return catalog.load_table("db.events")


@pytest.fixture
def copied(s3, source, tmp_path) -> Path:
    """The bucket's curated keys under a folder, as `landfall demo --out` saves them."""
    return _copy(s3, tmp_path)


def _copy(s3, into: Path) -> Path:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pipeline", Prefix="curated/"):
        for entry in page.get("Contents", []):
            path = into / entry["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket="pipeline", Key=entry["Key"])["Body"].read())
    return into


def _named_paths(table: StaticTable) -> list[str]:
    """Every location the local table names: manifest lists, manifests and data files (deleted ones too)."""
    named: list[str] = []
    for snapshot in table.metadata.snapshots:
        named.append(snapshot.manifest_list)
        for manifest in read_manifest_list(table.io.new_input(snapshot.manifest_list)):
            named.append(manifest.manifest_path)
            named += [e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False)]
    return named


def test_the_copy_names_no_bucket_path_anywhere(source, copied):
    local = localise(copied, "pipeline", source.metadata_location)
    folder = copied / "curated" / "events" / "metadata"
    assert local == folder / "v1.metadata.json" and (folder / "version-hint.text").read_text() == "1"
    assert sorted(p.name for p in folder.glob("*.json")) == ["v1.metadata.json"]  # the bucket's are gone
    assert "s3://" not in local.read_text()  # summaries (the objects index) included
    table = StaticTable.from_metadata(str(local))
    named = _named_paths(table)
    assert named and all(path.startswith(f"file://{copied}/curated/events/") for path in named), named
    avro = {p for p in folder.iterdir() if p.suffix == ".avro"}
    assert avro == {Path(path.removeprefix("file://")) for path in named if path.endswith(".avro")}
    assert all(b"s3://" not in path.read_bytes() for path in avro)  # their headers (the blocks are compressed)


def test_the_copy_opens_with_pyicebergs_own_file_io_and_holds_the_sources_rows(source, copied):
    local = localise(copied, "pipeline", source.metadata_location)
    expected = source.scan().to_arrow().sort_by("event_id")
    assert expected.num_rows == 4
    for opened in (str(local), f"file://{local}", str(local.parent.parent)):  # the folder: by its version hint
        table = StaticTable.from_metadata(opened)
        assert isinstance(table.io, PyArrowFileIO)
        assert table.scan().to_arrow().sort_by("event_id").equals(expected)
    assert sorted(live_files(local)) == sorted(copied.glob("curated/events/data/**/*.parquet"))


def test_every_snapshot_is_kept_with_its_summary_so_time_travel_by_run_works(source, copied):
    table = StaticTable.from_metadata(str(localise(copied, "pipeline", source.metadata_location)))
    kept = [(s.snapshot_id, s.parent_snapshot_id, s.sequence_number) for s in table.metadata.snapshots]
    assert kept == [(s.snapshot_id, s.parent_snapshot_id, s.sequence_number) for s in source.metadata.snapshots]
    assert len(kept) == len(RUNS) and table.current_snapshot() == table.metadata.snapshots[-1]
    for run_id in RUNS:
        theirs, ours = run_snapshot(source, run_id), run_snapshot(table, run_id)
        assert theirs is not None and ours is not None and ours.summary is not None and theirs.summary is not None
        assert ours.summary.additional_properties[RUN_ID] == run_id
        summary = dict(theirs.summary.additional_properties)
        summary[INDEX] = summary[INDEX].replace("s3://pipeline/", f"file://{copied}/")  # the objects index
        assert (ours.summary.operation, ours.summary.additional_properties) == (theirs.summary.operation, summary)
        rows = table.scan(snapshot_id=ours.snapshot_id).to_arrow().num_rows
        assert rows == source.scan(snapshot_id=theirs.snapshot_id).to_arrow().num_rows
    first, second = ({m.manifest_path for m in s.manifests(table.io)} for s in table.metadata.snapshots)
    assert first < second  # the first run's manifest, rewritten once, listed by both


def test_a_copy_of_another_bucket_is_refused(source, copied):
    with pytest.raises(CopyError, match="not in the copied bucket"):
        localise(copied, "elsewhere", source.metadata_location.replace("s3://pipeline/", "s3://elsewhere/"))


def _left_by_a_demo(data: Path, metadata_file: Path) -> Path:
    description = {
        "job": "landfall.jobs.events:EventsJob",
        "bucket": "pipeline",
        "metadata_location": str(metadata_file),
    }
    (data / DESCRIPTION).write_text(json.dumps(description))
    return data


def test_the_demo_refuses_a_job_that_would_drop_a_column_of_the_table_the_last_demo_left(s3, source, tmp_path):
    """The emulator's catalog starts empty, so the demo checks the job against the table it left, as a
    deploy's Catalog resource checks it against the stack's: the same one line, before anything starts."""
    same = _copy(s3, tmp_path / "same")
    data = _left_by_a_demo(same, localise(same, "pipeline", source.metadata_location))
    assert table_refusal(REPO_ROOT, {}, data) is None  # the job declares what the table holds
    with source.update_schema() as update:  # a column the job no longer declares (an older version of it had it)
        update.add_column("retired", StringType())
    older = _copy(s3, tmp_path / "older")
    data = _left_by_a_demo(older, localise(older, "pipeline", source.refresh().metadata_location))
    refusal = table_refusal(REPO_ROOT, {}, data)
    assert refusal is not None and refusal.startswith("table events: column retired would be dropped or renamed")
    assert "remove it to start a new one" in refusal and str(older) in refusal
    assert table_refusal(REPO_ROOT, {"Job": "orders_job:OrdersJob"}, data) is None  # another job's table
