"""Compaction on an in-process moto: a closed partition's small files become files of about the target
size in one commit, every row exactly once as other readers see it (pyiceberg with pyarrow, DuckDB), the
objects index kept, runs that commit meanwhile never lost, and nothing left behind when it does not commit."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from landfall.commit.commits import commit_run
from landfall.commit.objects import INDEX, RunFile, current_index
from landfall.commit.tables import put_table
from landfall.core.layout import curated_key, run_data_prefix
from landfall.table.partitioning import DAILY, HOURLY
from landfall.table.schema import table_schema
from landfall.upkeep.compaction import compact
from landfall.upkeep.compaction_commit import UPKEEP_ID
from landfall.upkeep.compaction_plan import pack, partition_closed, partition_path
from landfall.upkeep.compaction_rewrite import RowsMismatch
from landfall.upkeep.messages import ITEM_PATH_BYTES, MAX_FILES_PER_ITEM, CompactionItem, PlannedFile
from tests.paths import REPO_ROOT
from tests.tables import GrownEvent, download, duckdb_query
from tests.unit.upkeep.conftest import (
    BUCKET,
    EVENTS,
    HOUR,
    IDENTIFIER,
    LOCATION,
    NEXT_HOUR,
    NO_WAITS,
    SETTINGS,
    TARGET,
    RacingCatalog,
    commit_files,
    declared,
    plan,
    write_file,
)

COLUMNS = ["event_id", "ts", "type", "value", "user_id", "props", "source_key", "source_line"]


def _rows(catalog) -> list[tuple[Any, ...]]:
    """Every row of the table, as pyiceberg reads it (with pyarrow), in a stable order."""
    table = catalog.load_table(IDENTIFIER).scan().to_arrow().select(COLUMNS)
    return sorted(zip(*(table.column(name).to_pylist() for name in COLUMNS), strict=True))


def _live(catalog) -> dict[str, int]:
    return {t.file.file_path: t.file.file_size_in_bytes for t in catalog.load_table(IDENTIFIER).scan().plan_files()}


def _keys(s3, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_a_partitions_small_files_become_files_of_about_the_target_with_every_row_once(catalog, s3, tmp_path):
    small = commit_files(catalog, s3, "r1", 12) + commit_files(catalog, s3, "r2", 6)
    other_hour = commit_files(catalog, s3, "r3", 3, NEXT_HOUR)
    before, index_before = _rows(catalog), catalog.load_table(IDENTIFIER).current_snapshot().summary[INDEX]
    planned = plan(catalog)
    assert (planned.partitions, planned.open_partitions, planned.small_files) == (2, 0, 21)
    assert {i.partition for i in planned.items} == {HOUR, NEXT_HOUR}
    results = [compact(item, s3, catalog, EVENTS, NO_WAITS) for item in planned.items]

    assert [r.outcome for r in results] == ["compacted"] * len(planned.items)
    assert sum(r.files_in for r in results) == 21 and sum(r.rows for r in results) == 21 * 300
    assert _rows(catalog) == before, "every row once, as pyiceberg reads the table"
    live = _live(catalog)
    assert all(path.startswith(f"s3://{BUCKET}/curated/events/data/upkeep-1/") for path in live)
    assert len(live) == sum(r.files_out for r in results) < len(small + other_hour)
    in_hour = sorted(size for path, size in live.items() if HOUR in path)
    assert len(in_hour) < 18 / 3 and all(size <= TARGET for size in in_hour), in_hour
    assert all(size >= TARGET / 2 for size in in_hour[1:]), "about the target, but for what is left over"
    table = catalog.load_table(IDENTIFIER)
    summary = table.current_snapshot().summary
    assert summary.operation.value == "overwrite" and summary[UPKEEP_ID] == "upkeep-1"
    assert summary["deleted-records"] == summary["added-records"] and summary[INDEX] == index_before
    assert [s.snapshot_id for s in table.metadata.snapshots][-len(results) :] == [r.snapshot_id for r in results]

    folder = download(s3, BUCKET, run_data_prefix("events", "upkeep-1"), tmp_path)
    files = [str(p) for p in sorted(folder.rglob("*.parquet"))]
    assert duckdb_query(f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet({files})") == [(21 * 300,) * 2]
    for file in files:
        ids = duckdb_query(f"SELECT name, field_id FROM parquet_schema('{file}') WHERE field_id IS NOT NULL")
        assert dict(ids) == {c.name: c.field_id for c in EVENTS.columns}
        codecs = duckdb_query(f"SELECT DISTINCT compression FROM parquet_metadata('{file}')")
        assert codecs == [("ZSTD",)]


def test_the_open_hour_is_left_alone_until_its_end_and_the_grace_have_passed(catalog) -> None:
    commit_run(catalog, IDENTIFIER, "r1", declared("r1", [1000] * 4), (BUCKET, HOURLY), NO_WAITS)
    commit_run(catalog, IDENTIFIER, "r2", declared("r2", [1000] * 4, NEXT_HOUR), (BUCKET, HOURLY), NO_WAITS)
    just_before = plan(catalog, now=datetime(2026, 11, 22, 15, 59, 59, tzinfo=UTC))
    assert [i.partition for i in just_before.items] == [HOUR] and just_before.open_partitions == 1
    assert sorted(i.partition for i in plan(catalog, now=datetime(2026, 11, 22, 16, tzinfo=UTC)).items) == [
        HOUR,
        NEXT_HOUR,
    ]
    no_grace = SETTINGS.model_copy(update={"grace": timedelta(0)})
    assert len(plan(catalog, now=datetime(2026, 11, 22, 15, tzinfo=UTC), settings=no_grace).items) == 2


def test_one_small_file_or_only_large_files_are_left_alone(catalog) -> None:
    large = SETTINGS.small_bytes
    files = declared("r1", [1000, large, large + 1]) + declared("r1", [large, 60_000], NEXT_HOUR)
    commit_run(catalog, IDENTIFIER, "r1", files, (BUCKET, HOURLY), NO_WAITS)
    planned = plan(catalog)
    assert (planned.items, planned.small_files, planned.partitions) == ([], 1, 2)


def test_an_empty_table_plans_nothing(catalog) -> None:
    assert plan(catalog).model_dump(include={"snapshot_id", "items"}) == {"snapshot_id": None, "items": []}


def test_files_are_packed_largest_first_into_groups_within_the_target() -> None:
    files = [
        SimpleNamespace(file_path=f"s3://b/{size}", file_size_in_bytes=size) for size in (40, 30, 20, 10, 11, 5, 70)
    ]
    groups = [[f.file_size_in_bytes for f in group] for group in pack(files, 64, 500)]
    assert groups == [[20, 40], [10, 11, 30, 5]]  # 70 fits no group; each group in path order
    assert all(len(group) == 2 for group in pack(files, 64, 2))


def test_an_item_stays_well_under_the_state_payload_limit_whatever_its_paths() -> None:
    run = "notification-" + "f" * 67  # a Step Functions execution name is at most 80 characters
    key = curated_key("events", run, HOUR, "0" * 32)
    item = CompactionItem(
        upkeep_id="u",
        database="db",
        table="events",
        bucket=BUCKET,
        partition=HOUR,
        ordinal=HOURLY.ordinal(HOUR),
        snapshot_id=2**63 - 1,
        target_bytes=512 * 1024 * 1024,
        files=[PlannedFile(path=f"s3://{'b' * 63}/{key}", rows=10**9, bytes=10**9)] * MAX_FILES_PER_ITEM,
    )
    assert len(item.model_dump_json()) < 160 * 1024
    long_paths = [SimpleNamespace(file_path=f"s3://b/{n:04d}" + "k" * 1000, file_size_in_bytes=1) for n in range(600)]
    groups = pack(long_paths, 1000, MAX_FILES_PER_ITEM)
    assert len(groups) == -(-600 // (ITEM_PATH_BYTES // 1062))  # 1,062 bytes a file: its path and its JSON


@pytest.mark.parametrize(
    ("partitioning", "path"),
    [(HOURLY, "dt=2026-11-22/hour=13"), (DAILY, "dt=2026-11-22"), (HOURLY, "dt=1970-01-01/hour=00")],
)
def test_a_partition_value_has_its_path_and_closes_at_its_end(partitioning, path) -> None:
    ordinal = partitioning.ordinal(path)
    assert partition_path(partitioning, ordinal) == path
    unit = timedelta(hours=1) if partitioning is HOURLY else timedelta(days=1)
    end = datetime.fromisoformat(path[3:13]).replace(tzinfo=UTC) + int(path[-2:] if "hour" in path else 0) * unit
    end += unit
    assert partition_closed(partitioning, ordinal, timedelta(0), end)
    assert not partition_closed(partitioning, ordinal, timedelta(0), end - timedelta(microseconds=1))


def test_the_objects_index_survives_compaction(catalog, s3) -> None:
    committed = commit_files(catalog, s3, "r1", 4)
    for item in plan(catalog).items:
        compact(item, s3, catalog, EVENTS, NO_WAITS)
    again = [RunFile(f.key.replace("r1", "r9"), f.rows, f.bytes, f.partition, f.objects) for f in committed]
    commit = commit_run(catalog, IDENTIFIER, "r9", again, (BUCKET, HOURLY), NO_WAITS)
    assert (commit.snapshot_id, commit.files) == (None, 0)
    assert commit.duplicates == {d for f in committed for d in f.objects}
    assert len(current_index(catalog.load_table(IDENTIFIER))) == 4


def test_a_run_that_commits_during_the_compaction_lands_and_the_compaction_retries(catalog, glue, s3) -> None:
    commit_files(catalog, s3, "r1", 4)
    before = _rows(catalog)
    (item,) = plan(catalog).items
    late: list[RunFile] = []
    # loads: the compaction's check of its item, then its first commit's: the run lands between that and the commit
    racing = RacingCatalog(glue, s3, 2, lambda: late.extend(commit_files(catalog, s3, "late", 1)))
    result = compact(item, s3, racing, EVENTS, NO_WAITS)
    assert (result.outcome, result.attempts, result.rows) == ("compacted", 2, 1200)
    rows = _rows(catalog)
    assert len(rows) == 1500 and set(before) < set(rows)
    assert f"s3://{BUCKET}/{late[0].key}" in _live(catalog)
    assert len(current_index(catalog.load_table(IDENTIFIER))) == 5, "the late run's object is indexed"


def test_a_run_whose_commit_meets_a_compaction_retries_and_lands(catalog, glue, s3) -> None:
    commit_files(catalog, s3, "r1", 4)
    before = _rows(catalog)
    (item,) = plan(catalog).items
    late = [write_file(s3, "late", HOUR, 0)]
    racing = RacingCatalog(glue, s3, 1, lambda: compact(item, s3, catalog, EVENTS, NO_WAITS))
    commit = commit_run(racing, IDENTIFIER, "late", late, (BUCKET, HOURLY), NO_WAITS)
    assert commit.attempts == 2 and commit.files == 1
    assert len(_rows(catalog)) == len(before) + 300 and len(_live(catalog)) == 2
    assert len(current_index(catalog.load_table(IDENTIFIER))) == 5


def test_a_stale_plan_gives_up_and_leaves_no_file(catalog, s3) -> None:
    commit_files(catalog, s3, "r1", 4)
    (first,) = plan(catalog, "upkeep-1").items
    (stale,) = plan(catalog, "upkeep-2").items
    compact(first, s3, catalog, EVENTS, NO_WAITS)
    snapshots = len(catalog.load_table(IDENTIFIER).metadata.snapshots)
    result = compact(stale, s3, catalog, EVENTS, NO_WAITS)
    assert result.outcome == "given_up" and "left the table" in result.reason and result.files_out == 0
    assert _keys(s3, run_data_prefix("events", "upkeep-2")) == []
    assert len(catalog.load_table(IDENTIFIER).metadata.snapshots) == snapshots


def test_a_compaction_that_loses_the_race_to_another_gives_up_and_deletes_its_files(catalog, glue, s3) -> None:
    commit_files(catalog, s3, "r1", 4)
    before = _rows(catalog)
    (first,) = plan(catalog, "upkeep-1").items
    (second,) = plan(catalog, "upkeep-2").items
    racing = RacingCatalog(glue, s3, 2, lambda: compact(first, s3, catalog, EVENTS, NO_WAITS))
    result = compact(second, s3, racing, EVENTS, NO_WAITS)
    assert (result.outcome, result.attempts) == ("given_up", 1)  # its commit failed; reloaded, its files were gone
    assert _keys(s3, run_data_prefix("events", "upkeep-2")) == [], "its files were written, then deleted"
    assert _rows(catalog) == before and len(_keys(s3, run_data_prefix("events", "upkeep-1"))) == 1


def test_a_file_with_other_rows_than_its_manifest_counts_stops_the_compaction(catalog, s3) -> None:
    files = commit_files(catalog, s3, "r1", 4)
    (item,) = plan(catalog).items
    current = catalog.load_table(IDENTIFIER).current_snapshot().snapshot_id
    shrunk = write_file(s3, "elsewhere", HOUR, 0, rows=299)
    body = s3.get_object(Bucket=BUCKET, Key=shrunk.key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=files[2].key, Body=body)  # behind the table's back
    with pytest.raises(RowsMismatch, match=f"{files[2].key} holds 299 rows where the table's manifest counts 300"):
        compact(item, s3, catalog, EVENTS, NO_WAITS)
    assert _keys(s3, run_data_prefix("events", "upkeep-1")) == []
    assert catalog.load_table(IDENTIFIER).current_snapshot().snapshot_id == current


def test_files_written_before_a_column_was_added_are_compacted_into_the_tables_schema(catalog, s3) -> None:
    commit_files(catalog, s3, "r1", 3)
    grown = table_schema("events", GrownEvent, HOURLY, "event_id")
    put_table(catalog, IDENTIFIER, grown, LOCATION)
    before = _rows(catalog)
    (item,) = plan(catalog).items
    assert compact(item, s3, catalog, grown, NO_WAITS).outcome == "compacted"
    assert _rows(catalog) == before
    scanned = catalog.load_table(IDENTIFIER).scan().to_arrow()
    assert scanned.column("channel").null_count == len(before) == 900


def test_an_item_larger_than_its_target_rolls_into_several_files(catalog, s3) -> None:
    commit_files(catalog, s3, "r1", 4)
    before = _rows(catalog)
    (item,) = plan(catalog).items
    two = item.files[0].bytes + item.files[1].bytes  # a file ends once its rows came from that many bytes: two inputs
    smaller = item.model_copy(update={"target_bytes": two})
    result = compact(smaller, s3, catalog, EVENTS, NO_WAITS)
    assert (result.outcome, result.files_in, result.files_out) == ("compacted", 4, 2)
    assert _rows(catalog) == before and len(_live(catalog)) == 2


def test_an_item_of_one_file_has_nothing_to_do(catalog, s3) -> None:
    commit_files(catalog, s3, "r1", 2)
    (item,) = plan(catalog).items
    alone = item.model_copy(update={"files": item.files[:1]})
    assert compact(alone, s3, catalog, EVENTS, NO_WAITS).outcome == "nothing_to_do"


def test_compaction_runs_without_pyarrow() -> None:
    """The maintenance functions ship pyiceberg without pyarrow: plan, rewrite and commit need none of it."""
    script = """
import sys
class Block:
    def find_spec(self, name, *_):
        if name.split('.')[0] == 'pyarrow': raise ImportError(name)
sys.meta_path.insert(0, Block())
import os
os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
import boto3
from moto import mock_aws
from landfall.upkeep.compaction import compact
import tests.unit.upkeep.conftest as given
with mock_aws():
    s3, glue = boto3.client("s3"), boto3.client("glue")
    catalog = given.make_table(glue, s3)
    given.commit_files(catalog, s3, "r1", 3)
    (item,) = given.plan(catalog).items
    result = compact(item, s3, catalog, given.EVENTS, given.NO_WAITS)
    assert (result.outcome, result.rows) == ("compacted", 900), result
    assert "pyarrow" not in sys.modules
"""
    env = {"PYTHONPATH": f"{REPO_ROOT / 'layers' / 'common'}:{REPO_ROOT}"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
