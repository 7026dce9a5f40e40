"""The table stage on an in-process moto: the Iceberg table created from the job's declaration and
evolved only where no file loses a column, and a run's files committed once, in one snapshot."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from typing import Annotated

import boto3
import msgspec
import pytest
from pyiceberg.types import LongType, StringType, TimestamptzType

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import RUN_ID, Backoff, commit_run, data_file, run_snapshot
from landfall.commit.definition import iceberg_schema, partition_spec, time_column
from landfall.commit.objects import INDEX, FileSpool, ObjectIndex, RunFile, current_index
from landfall.commit.tables import SchemaChangeRefused, put_table
from landfall.core.layout import curated_key, object_digest
from landfall.jobs import default_job
from landfall.process.messages import CuratedFile
from landfall.table.partitioning import DAILY, HOURLY
from landfall.table.schema import SchemaError, table_of, table_schema
from tests.paths import REPO_ROOT
from tests.tables import GrownEvent

BUCKET = "pipeline"
EVENTS = table_of(default_job())
LOCATION = f"s3://{BUCKET}/curated/events"
NO_WAITS = Backoff(sleep=lambda _: None)


@pytest.fixture
def catalog(aws: None) -> TableCatalog:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "db"})
    return TableCatalog(glue, s3)


def _files(run: str, count: int, partition: str = "dt=2026-11-22/hour=13", objects: int = 0) -> list[RunFile]:
    """`count` files of a run, each holding the rows of objects of its own (from `objects` on)."""
    return [
        RunFile.of(
            CuratedFile(
                key=curated_key("events", run, partition, str(n)), rows=10 + n, bytes=1000, partition=partition
            ),
            (object_digest("landing", f"{run}/{objects + n}"),),
        )
        for n in range(count)
    ]


def test_the_table_is_the_declaration_in_iceberg(catalog: TableCatalog) -> None:
    table = put_table(catalog, "db.events", EVENTS, LOCATION)
    schema = table.schema()
    assert [(f.field_id, f.name) for f in schema.fields] == [(c.field_id, c.name) for c in EVENTS.columns]
    assert (
        schema.find_field("ts").field_type == TimestamptzType()
        and schema.find_field("source_line").field_type == LongType()
    )
    assert [(f.source_id, str(f.transform), f.name) for f in table.spec().fields] == [(6, "hour", "ts_hour")]
    assert table.metadata.format_version == 2 and table.location() == LOCATION
    entry = catalog.glue.get_table(DatabaseName="db", Name="events")["Table"]
    assert entry["Parameters"]["table_type"] == "ICEBERG"
    assert entry["Parameters"]["metadata_location"] == table.metadata_location


def test_lineage_ids_stay_when_the_record_grows() -> None:
    """Lineage columns are 1-4 whatever the record: a field added last takes the next id."""

    class Before(msgspec.Struct):
        id: str
        ts: datetime

    class After(msgspec.Struct):
        id: str
        ts: datetime
        note: str | None = None

    before, after = table_schema("t", Before), table_schema("t", After)
    ids = {c.name: c.field_id for c in after.columns}
    assert {c.name: c.field_id for c in before.columns}.items() <= ids.items() and ids["note"] == 7
    assert after.arrow_schema.field("note").metadata == {b"PARQUET:field_id": b"7"}


def _job_table(record: type[msgspec.Struct]):
    return table_schema("events", record, HOURLY, "event_id")


def test_a_job_that_adds_a_field_evolves_the_table_in_place(catalog: TableCatalog) -> None:
    put_table(catalog, "db.events", EVENTS, LOCATION)
    commit_run(catalog, "db.events", "r1", _files("r1", 1), (BUCKET, HOURLY), NO_WAITS)
    evolved = put_table(catalog, "db.events", _job_table(GrownEvent), LOCATION)
    assert evolved.schema().find_field("channel").field_id == 11
    assert evolved.schema().find_field("channel").field_type == StringType()
    assert len(evolved.metadata.snapshots) == 1, "the data stays"
    assert (
        put_table(catalog, "db.events", _job_table(GrownEvent), LOCATION).metadata_location == evolved.metadata_location
    )


class _Dropped(msgspec.Struct):
    event_id: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    type: str
    value: float


class _Retyped(msgspec.Struct):
    event_id: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    type: int
    value: float
    user_id: str | None = None
    props: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))


class _Inserted(msgspec.Struct):
    event_id: str
    channel: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    type: str
    value: float
    user_id: str | None = None
    props: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_Dropped, "column user_id would be dropped or renamed"),
        (_Retyped, "column type is string and cannot become long"),
        (_Inserted, "column ts would move from field id 6 to 7: declare new fields after the existing ones"),
    ],
)
def test_a_change_that_loses_data_is_refused_and_the_table_stays(catalog, record, message) -> None:
    before = put_table(catalog, "db.events", EVENTS, LOCATION).metadata_location
    with pytest.raises(SchemaChangeRefused, match=message):
        put_table(catalog, "db.events", _job_table(record), LOCATION)
    assert catalog.load_table("db.events").metadata_location == before


def test_a_new_partitioning_is_refused(catalog: TableCatalog) -> None:
    put_table(catalog, "db.events", EVENTS, LOCATION)
    daily = table_schema("events", type(default_job()).record_type, DAILY, "event_id")
    with pytest.raises(SchemaChangeRefused, match="its partitioning cannot change in place"):
        put_table(catalog, "db.events", daily, LOCATION)


def test_a_run_commits_once_in_one_snapshot(catalog: TableCatalog) -> None:
    put_table(catalog, "db.events", EVENTS, LOCATION)
    files = _files("r1", 3) + _files("r1", 2, "dt=2026-11-22/hour=14")
    first = commit_run(catalog, "db.events", "r1", files, (BUCKET, HOURLY), NO_WAITS)
    again = commit_run(catalog, "db.events", "r1", files, (BUCKET, HOURLY), NO_WAITS)
    table = catalog.load_table("db.events")
    assert len(table.metadata.snapshots) == 1 and not first.earlier and again.earlier
    assert first.snapshot_id == again.snapshot_id == run_snapshot(table, "r1").snapshot_id
    assert first.rows == sum(f.rows for f in files) and first.metadata_location == table.metadata_location
    summary = table.current_snapshot().summary
    assert (
        summary[RUN_ID] == "r1" and summary["added-data-files"] == "5" and summary["added-records"] == str(first.rows)
    )
    planned = {task.file.file_path: task.file.partition[0] for task in table.scan().plan_files()}
    assert planned == {f"s3://{BUCKET}/{f.key}": HOURLY.ordinal(f.partition) for f in files}


def test_runs_add_snapshots_and_a_run_without_rows_adds_none(catalog: TableCatalog) -> None:
    put_table(catalog, "db.events", EVENTS, LOCATION)
    commit_run(catalog, "db.events", "r1", _files("r1", 1), (BUCKET, HOURLY), NO_WAITS)
    empty = commit_run(catalog, "db.events", "r2", [], (BUCKET, HOURLY), NO_WAITS)
    commit_run(catalog, "db.events", "r3", _files("r3", 2), (BUCKET, HOURLY), NO_WAITS)
    table = catalog.load_table("db.events")
    assert empty.snapshot_id is None
    assert [s.summary[RUN_ID] for s in table.metadata.snapshots] == ["r1", "r3"]
    assert sum(1 for _ in table.scan().plan_files()) == 3


def test_partition_values_follow_the_transform() -> None:
    hourly = data_file(_files("r", 1)[0], BUCKET, HOURLY, 0)
    daily = CuratedFile(key="k", rows=1, bytes=1, partition="dt=1970-01-03")
    assert hourly.partition[0] == HOURLY.ordinal("dt=2026-11-22/hour=13") == 498709
    assert data_file(daily, BUCKET, DAILY, 0).partition[0] == 2


def test_the_time_column_is_the_only_timestamp_or_named() -> None:
    assert time_column(EVENTS).name == "ts"

    class Two(msgspec.Struct):
        a: Annotated[datetime, msgspec.Meta(tz=True)]
        b: Annotated[datetime, msgspec.Meta(tz=True)]

    with pytest.raises(SchemaError, match="found a, b: name it"):
        partition_spec(table_schema("t", Two, HOURLY))
    assert time_column(table_schema("t", Two, type(HOURLY)(column="b"))).name == "b"
    created = iceberg_schema(table_schema("t", Two, HOURLY))  # in id order: Iceberg assigns a new table's afresh
    assert [(f.field_id, f.name) for f in created.fields][:1] + [(f.field_id, f.name) for f in created.fields][-2:] == [
        (1, "source_bucket"),
        (5, "a"),
        (6, "b"),
    ]


def test_the_stage_runs_without_pyarrow_and_pyiceberg_extras() -> None:
    """The layer ships pyiceberg without pyarrow, requests, fsspec, ...: the stage imports none of them."""
    blocked = ["pyarrow", "requests", "rich", "click", "fsspec", "tenacity", "pyroaring", "hive_metastore"]
    script = (
        "import sys\n"
        "class Block:\n    def find_spec(self, name, *_):\n"
        f"        if name.split('.')[0] in {blocked!r}: raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import landfall.commit.catalog, landfall.commit.commits, landfall.commit.tables, pyiceberg.avro.file\n"
        "from pyiceberg.manifest import write_manifest\n"
    )
    env = {"PYTHONPATH": str(REPO_ROOT / "layers" / "common")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_run_committed_again_with_more_files_adds_only_those(catalog: TableCatalog) -> None:
    """An execution redriven in place: its failed children ran again and wrote files of their own."""
    put_table(catalog, "db.events", EVENTS, LOCATION)
    first, redriven = _files("r1", 2), _files("r1", 3)[2:]
    commit_run(catalog, "db.events", "r1", first, (BUCKET, HOURLY), NO_WAITS)
    again = commit_run(catalog, "db.events", "r1", first + redriven, (BUCKET, HOURLY), NO_WAITS)
    table = catalog.load_table("db.events")
    assert not again.earlier and len(table.metadata.snapshots) == 2
    assert table.current_snapshot().summary["added-data-files"] == "1"
    assert sorted(task.file.file_path for task in table.scan().plan_files()) == sorted(
        f"s3://{BUCKET}/{f.key}" for f in first + redriven
    )


def test_an_object_version_committed_by_one_run_is_not_committed_by_another(catalog: TableCatalog) -> None:
    """A second backfill of the same objects, a run started twice: their rows are in the table once."""
    put_table(catalog, "db.events", EVENTS, LOCATION)
    same = [replace(f, key=f.key.replace("r1", "r2")) for f in _files("r1", 2)]
    commit_run(catalog, "db.events", "r1", _files("r1", 2), (BUCKET, HOURLY), NO_WAITS)
    again = commit_run(catalog, "db.events", "r2", same, (BUCKET, HOURLY), NO_WAITS)
    table = catalog.load_table("db.events")
    assert (again.snapshot_id, again.files, len(again.duplicates), again.deferred) == (None, 0, 2, frozenset())
    assert len(table.metadata.snapshots) == 1 and len(current_index(table)) == 2


def test_a_file_that_mixes_committed_and_new_objects_is_left_out_and_says_which(catalog: TableCatalog) -> None:
    put_table(catalog, "db.events", EVENTS, LOCATION)
    first = _files("r1", 1)
    commit_run(catalog, "db.events", "r1", first, (BUCKET, HOURLY), NO_WAITS)
    new_object = object_digest("landing", "r2/new")
    mixed = replace(_files("r2", 1)[0], objects=(*first[0].objects, new_object))
    alone = _files("r2", 2, objects=5)[1]
    commit = commit_run(catalog, "db.events", "r2", [mixed, alone], (BUCKET, HOURLY), NO_WAITS)
    table = catalog.load_table("db.events")
    assert (commit.files, commit.duplicates, commit.deferred) == (1, set(first[0].objects), {new_object})
    assert commit.left_out == (mixed.key,)  # named, for the table's upkeep to remove
    assert {t.file.file_path for t in table.scan().plan_files()} == {
        f"s3://{BUCKET}/{first[0].key}",
        f"s3://{BUCKET}/{alone.key}",
    }
    index = current_index(table)
    assert all(d in index for d in first[0].objects + alone.objects) and new_object not in index
    assert table.current_snapshot().summary[INDEX].startswith(f"{LOCATION}/metadata/landfall-objects-")


def test_an_index_merges_in_order_without_repeats_and_survives_its_bytes() -> None:
    index = ObjectIndex().with_objects([5, 1, 5, 3]).with_objects([4, 3, 2**64 - 1])
    assert list(index.digests) == [1, 3, 4, 5, 2**64 - 1] and 4 in index and 2 not in index
    assert list(ObjectIndex.from_bytes(index.to_bytes()).digests) == list(index.digests)


def test_a_spool_gives_back_every_file_in_order_as_often_as_it_is_read(tmp_path):
    spool = FileSpool(str(tmp_path))
    first, second = _files("run-a", 3, objects=0), _files("run-a", 2, objects=3)
    spool.extend(first)
    assert list(spool) == first
    spool.extend(second)  # after a read: appended, not written over
    assert list(spool) == first + second == list(spool) and len(spool) == 5
    assert list(spool)[4].objects == (object_digest("landing", "run-a/4"),)
    spool.close()
