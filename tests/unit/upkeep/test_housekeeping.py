"""The table's housekeeping on an in-process moto: each kind of file planted, and exactly what goes checked.

Ages are set by the clock the sweep is given, never by waiting: `_latest` is when the last file was written,
and each test sweeps as of some days after it.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import Backoff, Commit, commit_run, data_file
from landfall.commit.objects import INDEX, RunFile, run_files
from landfall.commit.tables import put_table
from landfall.core.layout import curated_key, report_key
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.process.counts import ObjectCounts, RecordCounts
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.reduce.messages import Reconciliation, RunOutputs, RunReport, RunTiming, TableCommit
from landfall.table.schema import table_of
from landfall.upkeep.expiry import RETENTION, expirable, expire_snapshots
from landfall.upkeep.housekeeping import Policy, housekeep
from landfall.upkeep.manifest_rewrite import rewrite_manifests
from landfall.upkeep.messages import CompactionPlan, CompactionTotals, UpkeepReport, UpkeepTiming
from landfall.upkeep.orphan_files import (
    NO_REPORT_WINDOW,
    DeleteFailed,
    delete_keys,
    live_manifests,
    live_metadata,
    remove_orphan_files,
)
from tests.paths import REPO_ROOT

BUCKET, LANDING, TABLE = "pipeline", "landing", "db.events"
EVENTS = table_of(default_job())
NO_WAITS = Backoff(sleep=lambda _: None)
EVENT = b'{"event_id":"%s","ts":"2026-11-22T1%d:00:00Z","type":"click","value":1}'
PARTITION = "dt=2026-11-22/hour=13"


@pytest.fixture
def catalog(s3) -> TableCatalog:
    s3.create_bucket(Bucket=LANDING)
    s3.create_bucket(Bucket=BUCKET)
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "db"})
    catalog = TableCatalog(glue, s3)
    put_table(catalog, TABLE, EVENTS, f"s3://{BUCKET}/curated/events")
    return catalog


def _process(s3, run_id: str, events: dict[str, list[str]]) -> list[RunFile]:
    """A batch of the run through the real processor: its objects' events become Parquet files."""
    for key, ids in events.items():
        lines = [EVENT % (event_id.encode(), n % 2 + 2) for n, event_id in enumerate(ids)]
        s3.put_object(Bucket=LANDING, Key=key, Body=gzip.compress(b"\n".join(lines)))
    event = ProcessorEvent(
        batch_input=BatchInput(run_id=run_id, output_bucket=BUCKET),
        items=[ManifestItem(bucket=LANDING, key=key, size=1) for key in events],
    )
    summary = process_batch(event, s3, ProcessorSettings(), default_job())
    return run_files(summary.files, summary.objects)


def _commit(catalog: TableCatalog, s3, run_id: str, events: dict[str, list[str]]) -> Commit:
    files = _process(s3, run_id, events)
    return commit_run(catalog, TABLE, run_id, files, (BUCKET, EVENTS.partitioning), NO_WAITS)


def _report(s3, run_id: str, ended: datetime, status: str = "SUCCEEDED", **table: Any) -> None:
    """The run's report as the reducer writes it (only what housekeeping reads is set)."""
    report = RunReport(
        run_id=run_id,
        status=status,
        timing=RunTiming(ended_at=ended),
        objects=ObjectCounts(),
        records=RecordCounts(),
        reconciliation=Reconciliation(ok=table.get("skipped") is None),
        outputs=RunOutputs(bucket=BUCKET, curated_prefix="", quarantine_prefix="", report_key=report_key(run_id)),
        table=TableCommit(table="events", **table),
    )
    s3.put_object(Bucket=BUCKET, Key=report_key(run_id), Body=report.model_dump_json())


def _plant(s3, run_id: str, name: str) -> str:
    """A data file no batch result named: what a batch that stopped before removing it leaves."""
    key = curated_key("events", run_id, PARTITION, name)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"PAR1 cut short")
    return key


def _keys(s3, prefix: str = "curated/events/") -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {entry["Key"] for page in pages for entry in page.get("Contents", [])}


def _latest(s3) -> datetime:
    """When the last object of the bucket was written: ages are counted from it."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return max(entry["LastModified"] for page in pages for entry in page.get("Contents", []))


def _rows(table: Table) -> list[str]:
    return sorted(table.scan().to_arrow().column("event_id").to_pylist())


def _replace(catalog: TableCatalog, s3, run_id: str, files: list[RunFile], by: str) -> list[str]:
    """What a compaction does: the run's files copied under the compaction's id and swapped for them in one
    overwrite that carries the objects index. Returns the new keys."""
    table = catalog.load_table(TABLE)
    old = {task.file.file_path: task.file for task in table.scan().plan_files()}
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    index = snapshot.summary.additional_properties[INDEX]
    new = [RunFile(f.key.replace(f"/{run_id}/", f"/{by}/"), f.rows, f.bytes, f.partition, ()) for f in files]
    with (
        table.transaction() as transaction,
        transaction.update_snapshot(snapshot_properties={INDEX: index}).overwrite() as overwrite,
    ):
        for before, after in zip(files, new, strict=True):
            s3.copy_object(Bucket=BUCKET, Key=after.key, CopySource={"Bucket": BUCKET, "Key": before.key})
            overwrite.delete_data_file(old[f"s3://{BUCKET}/{before.key}"])
            overwrite.append_data_file(data_file(after, BUCKET, EVENTS.partitioning, table.spec().spec_id))
    return [f.key for f in new]


def _failing_once(catalog: TableCatalog) -> list[int]:
    """The catalog's next commit loses a race (another writer's landed first); counts the commits tried."""
    commit, tried = catalog.commit_table, []

    def racing(*args: Any) -> Any:
        tried.append(1)
        if len(tried) == 1:
            raise CommitFailedException("another commit landed first")
        return commit(*args)

    catalog.commit_table = racing
    return tried


# --- snapshot expiry


def test_snapshots_replaced_before_the_retention_expire_but_never_the_newest(catalog, s3) -> None:
    for run in ("r1", "r2", "r3"):
        _commit(catalog, s3, run, {f"raw/{run}.gz": [f"{run}-a"]})
    first, second, third = catalog.load_table(TABLE).metadata.snapshots
    latest = _latest(s3)

    within = expire_snapshots(catalog, TABLE, s3, latest + RETENTION - timedelta(hours=1), keep_last=1)
    assert within.expired == 0 and len(catalog.load_table(TABLE).metadata.snapshots) == 3

    after = latest + RETENTION + timedelta(hours=1)
    two = expire_snapshots(catalog, TABLE, s3, after, keep_last=2, backoff=NO_WAITS)
    assert (two.snapshots_before, two.expired, two.expired_ids) == (3, 1, [first.snapshot_id])

    far = expire_snapshots(catalog, TABLE, s3, after + timedelta(days=3650), keep_last=1, backoff=NO_WAITS)
    table = catalog.load_table(TABLE)
    assert far.expired_ids == [second.snapshot_id] and far.current_snapshot_id == third.snapshot_id
    assert [s.snapshot_id for s in table.metadata.snapshots] == [third.snapshot_id]
    assert _rows(table) == ["r1-a", "r2-a", "r3-a"]
    with pytest.raises(ValueError, match="keep_last"):
        expire_snapshots(catalog, TABLE, s3, after, keep_last=0)


def test_a_snapshot_is_old_once_it_was_replaced_before_the_retention_began(catalog, s3) -> None:
    """The table as of any moment within the retention stays readable: the snapshot that was current when
    the retention began is kept, however old it is itself."""
    for run in ("r1", "r2", "r3"):
        _commit(catalog, s3, run, {f"raw/{run}.gz": [f"{run}-a"]})
    metadata = catalog.load_table(TABLE).metadata
    day0 = datetime(2026, 1, 1, tzinfo=UTC)
    dated = [  # committed on days 0, 10 and 20
        snapshot.model_copy(update={"timestamp_ms": int((day0 + timedelta(days=10 * n)).timestamp() * 1000)})
        for n, snapshot in enumerate(metadata.snapshots)
    ]
    metadata = metadata.model_copy(update={"snapshots": dated})
    retention = timedelta(days=15)
    assert expirable(metadata, day0 + timedelta(days=26), retention, keep_last=1) == dated[:1]
    assert expirable(metadata, day0 + timedelta(days=24), retention, keep_last=1) == []
    assert expirable(metadata, day0 + timedelta(days=36), retention, keep_last=1) == dated[:2]
    assert expirable(metadata, day0 + timedelta(days=36), retention, keep_last=2) == dated[:1]


def test_expiry_deletes_the_metadata_files_only_expired_snapshots_named(catalog, s3) -> None:
    for run in ("r1", "r2"):
        _commit(catalog, s3, run, {f"raw/{run}.gz": [f"{run}-a"]})
    table = catalog.load_table(TABLE)
    first, second = table.metadata.snapshots
    first_manifests = {m.manifest_path for m in first.manifests(table.io)}
    index = {s.snapshot_id: s.summary.additional_properties[INDEX] for s in (first, second) if s.summary}

    result = expire_snapshots(catalog, TABLE, s3, _latest(s3) + timedelta(days=30), keep_last=1, backoff=NO_WAITS)

    left = {f"s3://{BUCKET}/{key}" for key in _keys(s3, "curated/events/metadata/")}
    assert result.metadata_files_deleted == 2  # the first's manifest list and objects index
    assert first.manifest_list not in left and index[first.snapshot_id] not in left
    assert first_manifests <= left, "the first run's manifest is listed by the second snapshot too"
    assert {second.manifest_list, index[second.snapshot_id]} <= left


def test_a_conflicting_commit_is_retried_on_the_reloaded_table(catalog, s3) -> None:
    for run in ("r1", "r2"):
        _commit(catalog, s3, run, {f"raw/{run}.gz": [f"{run}-a"]})
    tried = _failing_once(catalog)
    result = expire_snapshots(catalog, TABLE, s3, _latest(s3) + timedelta(days=30), keep_last=1, backoff=NO_WAITS)
    assert (result.attempts, len(tried), result.expired) == (2, 2, 1)
    assert len(catalog.load_table(TABLE).metadata.snapshots) == 1


# --- orphan files


def test_after_expiry_a_replaced_file_goes_and_every_live_row_stays(catalog, s3) -> None:
    """r1's files are replaced (a compaction, c1); a batch of r1 crashed and left a file. Once the snapshots
    that read r1's files expired, those go; what the current snapshot reads stays, however old."""
    r1 = _process(s3, "r1", {"raw/a.gz": ["a1", "a2"], "raw/b.gz": ["b1"]})
    commit_run(catalog, TABLE, "r1", r1, (BUCKET, EVENTS.partitioning), NO_WAITS)
    _commit(catalog, s3, "r2", {"raw/c.gz": ["c1"]})
    compacted = _replace(catalog, s3, "r1", r1, "c1")
    crashed = _plant(s3, "r1", "crashed")
    latest = _latest(s3)
    for run in ("r1", "r2"):
        _report(s3, run, latest, snapshot_id=1)
    before = _keys(s3, "curated/events/data/")
    now = latest + timedelta(days=30)

    expire_snapshots(catalog, TABLE, s3, now, keep_last=1, backoff=NO_WAITS)
    swept = remove_orphan_files(catalog, TABLE, s3, BUCKET, now)

    gone = {f.key for f in r1} | {crashed}
    assert before - _keys(s3, "curated/events/data/") == gone
    assert set(compacted) <= _keys(s3) and swept.live_snapshots == 1
    assert (swept.data.unreferenced, swept.data.deleted, swept.data.young, swept.data.kept_for_runs) == (3, 3, 0, 0)
    assert sorted(swept.data.keys) == sorted(gone) and swept.data.bytes == sum(f.bytes for f in r1) + 14
    assert _rows(catalog.load_table(TABLE)) == ["a1", "a2", "b1", "c1"]


def test_an_unreferenced_file_waits_out_the_safety_window(catalog, s3) -> None:
    _commit(catalog, s3, "r1", {"raw/a.gz": ["a1"]})
    crashed = _plant(s3, "r1", "crashed")
    latest = _latest(s3)
    _report(s3, "r1", latest, snapshot_id=1)

    young = remove_orphan_files(catalog, TABLE, s3, BUCKET, latest + timedelta(days=2))
    assert (young.data.unreferenced, young.data.young, young.data.deleted) == (1, 1, 0) and crashed in _keys(s3)

    old = remove_orphan_files(catalog, TABLE, s3, BUCKET, latest + timedelta(days=4))
    assert (old.data.deleted, old.data.keys) == (1, [crashed]) and crashed not in _keys(s3)
    assert _rows(catalog.load_table(TABLE)) == ["a1"]


def test_a_run_that_may_still_commit_keeps_its_files(catalog, s3) -> None:
    """Skipped or failed runs can be redriven in place for 14 days after they ended; a run without a report
    may be in flight; a run that ended within the safety window may have committed since the table loaded."""
    _commit(catalog, s3, "r0", {"raw/a.gz": ["a1"]})
    runs = ("skipped-3d", "skipped-20d", "failed-3d", "failed-20d", "ended-1d", "no-report")
    planted = {run: _plant(s3, run, "batch-0") for run in runs}
    now = _latest(s3) + timedelta(days=30)
    _report(s3, "skipped-3d", now - timedelta(days=3), "FAILED", skipped="the run is not reconciled")
    _report(s3, "skipped-20d", now - timedelta(days=20), "FAILED", skipped="the run is not reconciled")
    _report(s3, "failed-3d", now - timedelta(days=3), "FAILED", snapshot_id=7)
    _report(s3, "failed-20d", now - timedelta(days=20), "FAILED", snapshot_id=7)
    _report(s3, "ended-1d", now - timedelta(days=1), "PARTIAL", snapshot_id=7)

    swept = remove_orphan_files(catalog, TABLE, s3, BUCKET, now)
    assert set(swept.data.keys) == {planted["skipped-20d"], planted["failed-20d"]}
    assert (swept.data.unreferenced, swept.data.kept_for_runs, swept.data.deleted) == (6, 4, 2)

    much_later = remove_orphan_files(catalog, TABLE, s3, BUCKET, now + NO_REPORT_WINDOW)
    assert planted["no-report"] in much_later.data.keys and much_later.data.kept_for_runs == 0
    assert _keys(s3, "curated/events/data/") == _keys(s3, "curated/events/data/r0/")  # what the table reads
    assert _rows(catalog.load_table(TABLE)) == ["a1"]


def _upkeep_report(s3, upkeep_id: str, ended: datetime, status: str) -> None:
    """A maintenance run's report, as the finish step writes it beside the pipeline runs'."""
    report = UpkeepReport(
        run_id=upkeep_id,
        table="events",
        status=status,
        timing=UpkeepTiming(started_at=ended, ended_at=ended, seconds=0),
        planned=CompactionPlan(upkeep_id=upkeep_id, table="events"),
        compaction=CompactionTotals(),
    )
    s3.put_object(Bucket=BUCKET, Key=report_key(upkeep_id), Body=report.model_dump_json())


def test_a_maintenance_run_that_may_be_redriven_keeps_its_files(catalog, s3) -> None:
    """A compaction child's file no snapshot names: its maintenance run's report decides, as a run's does."""
    _commit(catalog, s3, "r0", {"raw/a.gz": ["a1"]})
    planted = {run: _plant(s3, run, "partition-0") for run in ("upkeep-ok", "upkeep-failed")}
    now = _latest(s3) + timedelta(days=30)
    _upkeep_report(s3, "upkeep-ok", now - timedelta(days=5), "SUCCEEDED")
    _upkeep_report(s3, "upkeep-failed", now - timedelta(days=5), "FAILED")

    swept = remove_orphan_files(catalog, TABLE, s3, BUCKET, now)
    assert swept.data.keys == [planted["upkeep-ok"]] and swept.data.kept_for_runs == 1


def test_metadata_files_nothing_names_go_when_old(catalog, s3) -> None:
    _commit(catalog, s3, "r1", {"raw/a.gz": ["a1"]})
    lost = {"curated/events/metadata/lost-m0.avro", "curated/events/metadata/landfall-objects-lost.bin"}
    for key in lost:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"a commit that lost its race")
    table = catalog.load_table(TABLE)
    named = {p.removeprefix(f"s3://{BUCKET}/") for p in live_metadata(table, live_manifests(table))}
    latest = _latest(s3)

    young = remove_orphan_files(catalog, TABLE, s3, BUCKET, latest + timedelta(days=2))
    assert (young.metadata.unreferenced, young.metadata.young, young.metadata.deleted) == (2, 2, 0)

    old = remove_orphan_files(catalog, TABLE, s3, BUCKET, latest + timedelta(days=4))
    assert set(old.metadata.keys) == lost and _keys(s3, "curated/events/metadata/") == named
    # three metadata files (the table made and set up, the commit), a manifest list, a manifest, an index
    assert len(named) == 6
    assert _rows(catalog.load_table(TABLE)) == ["a1"]


def test_after_expiry_the_objects_index_still_leaves_committed_objects_out(catalog, s3) -> None:
    _commit(catalog, s3, "r1", {"raw/a.gz": ["a1"]})
    _commit(catalog, s3, "r2", {"raw/b.gz": ["b1"]})
    latest = _latest(s3)
    for run in ("r1", "r2"):
        _report(s3, run, latest, snapshot_id=1)
    housekeep(catalog, TABLE, s3, BUCKET, latest + timedelta(days=30), Policy(keep_last=1), NO_WAITS)

    again = _commit(catalog, s3, "again", {"raw/a.gz": ["a1"], "raw/b.gz": ["b1"]})
    assert (again.files, again.rows, len(again.duplicates)) == (0, 0, 2)
    assert _rows(catalog.load_table(TABLE)) == ["a1", "b1"]


def test_a_table_elsewhere_is_not_swept(catalog, s3) -> None:
    with pytest.raises(ValueError, match="not swept"):
        remove_orphan_files(catalog, TABLE, s3, "another-bucket", _latest(s3))


class _DeleteObjects:
    """An S3 client that only records DeleteObjects requests, refusing the keys `refused` says."""

    def __init__(self, refused: Callable[[str], bool] = lambda _: False) -> None:
        self.requests: list[list[str]] = []
        self.refused = refused

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        keys = [entry["Key"] for entry in Delete["Objects"]]
        self.requests.append(keys)
        return {"Errors": [{"Key": key, "Code": "AccessDenied"} for key in keys if self.refused(key)]}


def test_deletes_go_a_thousand_a_request_and_a_refusal_fails_loudly() -> None:
    client = _DeleteObjects()
    assert delete_keys(client, BUCKET, (f"k{n}" for n in range(2001))) == 2001
    assert [len(keys) for keys in client.requests] == [1000, 1000, 1]
    with pytest.raises(DeleteFailed, match="1 of 2 keys"):
        delete_keys(_DeleteObjects(lambda key: key == "b"), BUCKET, ["a", "b"])


# --- manifest rewrite


def test_many_manifests_become_one_replace_snapshot_with_the_rows_and_the_index(catalog, s3) -> None:
    for run in ("r1", "r2", "r3", "r4"):
        _commit(catalog, s3, run, {f"raw/{run}.gz": [f"{run}-a", f"{run}-b"]})
    before = catalog.load_table(TABLE).current_snapshot()
    assert before is not None and before.summary is not None

    assert rewrite_manifests(catalog, TABLE, max_manifests=4).snapshot_id is None  # not past the threshold
    result = rewrite_manifests(catalog, TABLE, max_manifests=3, backoff=NO_WAITS)

    table = catalog.load_table(TABLE)
    after = table.current_snapshot()
    assert after is not None and after.summary is not None and after.snapshot_id == result.snapshot_id
    assert (result.manifests_before, result.manifests_after, result.entries) == (4, 1, 8)  # two hours a run
    assert len(after.manifests(table.io)) == 1 and after.parent_snapshot_id == before.snapshot_id
    assert after.summary.operation == Operation.REPLACE
    assert after.summary.additional_properties[INDEX] == before.summary.additional_properties[INDEX]
    assert after.summary["total-records"] == before.summary["total-records"] == "8"
    assert _rows(table) == sorted(f"{run}-{x}" for run in ("r1", "r2", "r3", "r4") for x in "ab")
    again = _commit(catalog, s3, "again", {"raw/r1.gz": ["r1-a", "r1-b"]})
    assert (again.files, len(again.duplicates)) == (0, 1)


def test_the_replaced_manifests_go_with_the_snapshots_that_listed_them(catalog, s3) -> None:
    for run in ("r1", "r2", "r3"):
        _commit(catalog, s3, run, {f"raw/{run}.gz": [f"{run}-a"]})
    table = catalog.load_table(TABLE)
    old = set(live_manifests(table))
    tried = _failing_once(catalog)
    rewritten = rewrite_manifests(catalog, TABLE, max_manifests=2, backoff=NO_WAITS)
    assert (rewritten.attempts, len(tried)) == (2, 2)
    latest = _latest(s3)
    for run in ("r1", "r2", "r3"):
        _report(s3, run, latest, snapshot_id=1)

    done = housekeep(catalog, TABLE, s3, BUCKET, latest + timedelta(days=30), Policy(keep_last=1), NO_WAITS)

    table = catalog.load_table(TABLE)
    left = {f"s3://{BUCKET}/{key}" for key in _keys(s3, "curated/events/metadata/")}
    assert done.expiry.expired == 3 and not old & left
    assert left == live_metadata(table, live_manifests(table))  # the lost attempt's files are gone too
    assert done.orphans.metadata.deleted == 0 and done.orphans.data.deleted == 0
    assert _rows(table) == ["r1-a", "r2-a", "r3-a"]


_WITHOUT_PYARROW = """
import sys
class Block:
    def find_spec(self, name, *_):
        if name.split(".")[0] == "pyarrow": raise ImportError(name)
sys.meta_path.insert(0, Block())
from datetime import timedelta
import boto3
from moto import mock_aws
from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import commit_run
from landfall.commit.objects import RunFile
from landfall.commit.tables import put_table
from landfall.jobs import default_job
from landfall.table.schema import table_of
from landfall.upkeep.housekeeping import Policy, housekeep
with mock_aws():
    s3, glue = boto3.client("s3"), boto3.client("glue")
    s3.create_bucket(Bucket="pipeline")
    glue.create_database(DatabaseInput={"Name": "db"})
    catalog, table = TableCatalog(glue, s3), table_of(default_job())
    put_table(catalog, "db.events", table, "s3://pipeline/curated/events")
    for n in range(3):
        key = f"curated/events/data/r{n}/dt=2026-11-22/hour=13/b.parquet"
        s3.put_object(Bucket="pipeline", Key=key, Body=b"rows")
        files = [RunFile(key, 1, 4, "dt=2026-11-22/hour=13", (n,))]
        commit_run(catalog, "db.events", f"r{n}", files, ("pipeline", table.partitioning))
    now = max(o["LastModified"] for o in s3.list_objects_v2(Bucket="pipeline")["Contents"]) + timedelta(days=30)
    done = housekeep(catalog, "db.events", s3, "pipeline", now, Policy(keep_last=1, max_manifests=2))
    print(done.expiry.expired, done.manifests.manifests_after, "pyarrow" in sys.modules)
"""


def test_housekeeping_runs_without_pyarrow(aws) -> None:
    """The Lambda layer has pyiceberg without pyarrow: every step runs there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "layers" / "common"), str(REPO_ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYARROW], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1", "False"]
