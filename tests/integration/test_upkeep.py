"""The table's upkeep on the emulator, as `landfall compact` and the schedule start it: runs that made
many small files in an hour, compacted by the upkeep state machine (plan, a Distributed Map child per
partition, finish) into one file; a reader that is not the writer (pyiceberg with its own catalog, and
DuckDB over the files it lists) counts every row before and after, a run committing meanwhile loses
no row, the housekeeping pass leaves a file that is too young alone, and the report says what it did;
then the same pass weeks later (the finish function's clock ahead) expires the old snapshots and deletes
the files nothing may need, planted of each kind, while the files a run may still commit stay."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pyiceberg.expressions import StartsWith

from landfall.core.layout import curated_key, report_key
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs.samples import event_lines
from landfall_cli.main import main
from landfall_cli.target import write_local_state
from tests.integration.conftest import execution_arn_of, read_json, start_run
from tests.integration.test_table import _download, _pyiceberg
from tests.tables import duckdb_query

pytestmark = pytest.mark.emulator

HOUR = datetime(2026, 10, 3, 7, 5, tzinfo=UTC)  # an hour no other test writes: closed long ago
PARTITION = "dt=2026-10-03/hour=07"
LATER = timedelta(days=16)  # past the retention (15 days) and the orphan window (3); a failed run's redrive is not
ONE_A_BATCH = RunConfig(
    max_concurrency=4, max_items_per_batch=1, max_batch_bytes=1 << 20, tolerated_failure_percentage=0
)


def _files_of_the_hour(table) -> list[str]:
    return [t.file.file_path for t in table.scan().plan_files() if f"/{PARTITION}/" in t.file.file_path]


def _land(emulator, rng: random.Random, numbers: range, hour: datetime = HOUR) -> list[ManifestItem]:
    """Objects of events in the hour (a few late ones in the next), a file a batch."""
    s3, items = emulator.client("s3"), []
    for n in numbers:
        body = b"\n".join(line for line, _ in event_lines(rng, 200, hour, 0.0)) + b"\n"
        s3.put_object(Bucket=emulator.pipeline_bucket, Key=f"t/upkeep/{n}.jsonl", Body=body)
        items.append(ManifestItem(bucket=emulator.pipeline_bucket, key=f"t/upkeep/{n}.jsonl", size=len(body)))
    return items


def _start_upkeep(
    emulator, name: str, housekeep: bool = False, partition: str = PARTITION, compact: bool = True
) -> str:
    return emulator.client("stepfunctions").start_execution(
        stateMachineArn=emulator.stack.outputs()["UpkeepStateMachineArn"],
        name=name,
        input=json.dumps({"partitions": [partition], "housekeep": housekeep, "compact": compact}),
    )["executionArn"]


def _serve_the_cli(emulator, tmp_path, monkeypatch) -> None:
    """The state file `make demo ARGS='--keep N'` writes, pointing the CLI's --local at this emulator."""
    state = tmp_path / "local.json"
    write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
    monkeypatch.setenv("LANDFALL_LOCAL_STATE", str(state))
    monkeypatch.setenv("COLUMNS", "200")


def _hour_rows(emulator) -> int:
    scan = _pyiceberg(emulator).scan(row_filter=StartsWith("source_key", "t/upkeep/")).to_arrow()
    return sum(1 for ts in scan.column("ts").to_pylist() if ts.strftime("dt=%Y-%m-%d/hour=%H") == PARTITION)


def test_an_hour_of_small_files_is_compacted_into_one_with_every_row(emulator, tmp_path, monkeypatch, capsys):
    _serve_the_cli(emulator, tmp_path, monkeypatch)
    rng = random.Random(7)
    started = start_run(emulator, _land(emulator, rng, range(5)), ONE_A_BATCH)
    assert emulator.wait_for_execution(execution_arn_of(emulator, started))["status"] == "SUCCEEDED"
    before = _files_of_the_hour(_pyiceberg(emulator))
    rows = read_json(emulator, emulator.pipeline_bucket, report_key(started.run_id))["rows_by_partition"][PARTITION]
    assert len(before) == 5 and rows > 0

    stray = curated_key("events", "t-upkeep-stray", PARTITION, "crashed")  # a stopped batch's file, just written
    s3 = emulator.client("s3")
    s3.put_object(Bucket=emulator.pipeline_bucket, Key=stray, Body=b"PAR1 a stopped batch's PAR1")
    described = emulator.wait_for_execution(_start_upkeep(emulator, "upkeep-test-1", housekeep=True))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    report = read_json(emulator, emulator.pipeline_bucket, report_key("upkeep-test-1"))
    # the housekeeping pass ran over the emulator's table: nothing old enough to expire or delete yet
    kept = report["housekeeping"]
    assert kept["expiry"]["expired"] == 0 and kept["orphans"]["data"]["deleted"] == 0
    assert kept["orphans"]["data"]["young"] >= 1 and s3.head_object(Bucket=emulator.pipeline_bucket, Key=stray)
    assert (report["kind"], report["status"], report["compaction"]["compacted"]) == ("upkeep", "SUCCEEDED", 1)
    assert (report["compaction"]["files_in"], report["compaction"]["files_out"]) == (5, 1)

    table = _pyiceberg(emulator)
    (after,) = _files_of_the_hour(table)
    assert "/data/upkeep-test-1/" in after and table.current_snapshot().summary["landfall.upkeep-id"] == "upkeep-test-1"
    (path,) = _download(emulator, [{"key": after.split("/", 3)[3]}], tmp_path)
    assert duckdb_query(f"SELECT count(*) FROM read_parquet('{path.as_posix()}')") == [(rows,)]
    assert report["compaction"]["rows"] == rows

    # late records for the hour and `landfall compact`, under way together: both commit, no row lost or doubled
    late = start_run(emulator, _land(emulator, rng, range(5, 8)), ONE_A_BATCH)
    assert main(["compact", "--local", "--partition", PARTITION, "--no-housekeeping"]) == 0
    (said,) = capsys.readouterr().out.strip().splitlines()  # one line
    # the late files are compacted too if their run committed before the plan, else at the next upkeep
    assert re.fullmatch(
        r"upkeep-\S+: SUCCEEDED — [01] partitions compacted \(\d+ files → [01]\), 0 given up, 0 failed; \$\d\.\d{4}",
        said,
    )
    assert emulator.wait_for_execution(execution_arn_of(emulator, late))["status"] == "SUCCEEDED"
    added = read_json(emulator, emulator.pipeline_bucket, report_key(late.run_id))["rows_by_partition"][PARTITION]
    assert _hour_rows(emulator) == rows + added
    assert main(["report", said.split(":")[0], "--local"]) == 0
    printed = capsys.readouterr().out
    assert "## Compaction" in printed and re.search(r"Cost: \$\d+\.\d{4}[ ,]", printed)
    assert report["cost"]["usage"]["lambda_gb_seconds"] > 0 and report["cost"]["usage"]["s3_gets"] >= 5
    assert report["cost"]["usd_per_gb"] > 0  # upkeep-test-1 compacted the hour's five files
    _weeks_later(emulator, started.run_id, tmp_path)


def _upkeep_later(emulator, name: str, partition: str, kept: int) -> dict:
    """The upkeep's housekeeping as it runs `LATER`, keeping the newest `kept` snapshots; its report."""
    finish = emulator.function_name("UpkeepFinishFunction")
    original = emulator.lambdas.functions[finish].environment["SNAPSHOTS_KEPT"]
    emulator.lambdas.reconfigure(finish, {"SNAPSHOTS_KEPT": str(kept)}, clock_ahead=LATER)
    try:
        # housekeeping alone: a compaction of the late files would add a snapshot the count must not see
        upkeep = _start_upkeep(emulator, name, housekeep=True, partition=partition, compact=False)
        described = emulator.wait_for_execution(upkeep)
    finally:
        emulator.lambdas.reconfigure(finish, {"SNAPSHOTS_KEPT": original}, clock_ahead=timedelta(0))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return read_json(emulator, emulator.pipeline_bucket, report_key(name))


def _plant(emulator, run_id: str) -> dict[str, str]:
    """A file of each kind nothing names, keyed by what may still need it; a failed run's report."""
    s3, bucket, hour = emulator.client("s3"), emulator.pipeline_bucket, "dt=2026-10-04/hour=07"
    planted = {
        "its run ended": curated_key("events", run_id, hour, "stopped-batch"),
        "its run failed: a redrive may commit it": curated_key("events", "t-upkeep-failed", hour, "stopped-batch"),
        "its run has no report: in flight": curated_key("events", "t-upkeep-in-flight", hour, "batch"),
        "a commit that lost its race": f"curated/events/metadata/{uuid.uuid4()}-m0.avro",
    }
    for key in planted.values():
        s3.put_object(Bucket=bucket, Key=key, Body=b"PAR1 nothing names this file PAR1")
    s3.put_object(Bucket=bucket, Key=report_key("t-upkeep-failed"), Body=b'{"status": "FAILED"}')
    return planted


def _weeks_later(emulator, run_id: str, tmp_path) -> None:
    """The housekeeping of the same table weeks later: the old snapshots expired, the files nothing may
    need deleted (the compactions' inputs and the planted ones), the files a run may still commit kept,
    and every live row still there, as pyiceberg and DuckDB read them."""
    table = _pyiceberg(emulator)  # what an independent reader sees before: the snapshots, the files each names
    current, live = table.current_snapshot(), {t.file.file_path for t in table.scan().plan_files()}
    named = {t.file.file_path for s in table.snapshots() for t in table.scan(snapshot_id=s.snapshot_id).plan_files()}
    replaced = {path for path in named - live if f"/{PARTITION}/" in path}
    planted = _plant(emulator, run_id)
    assert len(replaced) >= 5 and len(table.snapshots()) > 1

    report = _upkeep_later(emulator, "upkeep-test-later", PARTITION, kept=1)["housekeeping"]
    assert report["expiry"]["expired"] == len(table.snapshots()) - 1  # all but the current one
    after = _pyiceberg(emulator)
    assert [s.snapshot_id for s in after.snapshots()] == [current.snapshot_id]
    assert {t.file.file_path for t in after.scan().plan_files()} == live  # the live files, every one kept
    s3, bucket = emulator.client("s3"), emulator.pipeline_bucket

    def exists(key: str) -> bool:
        return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"])

    assert not any(exists(path.split("/", 3)[3]) for path in replaced)  # the compactions' inputs
    kept = {why for why, key in planted.items() if exists(key)}
    assert kept == {"its run failed: a redrive may commit it", "its run has no report: in flight"}
    swept = report["orphans"]
    assert swept["data"]["deleted"] >= len(replaced) + 1 and swept["data"]["kept_for_runs"] >= 2
    assert swept["metadata"]["deleted"] >= 1
    files = _download(
        emulator, [{"key": p.split("/", 3)[3]} for p in live if f"/{PARTITION}/" in p], tmp_path / "later"
    )
    counted = duckdb_query(f"SELECT count(*) FROM read_parquet([{', '.join(repr(p.as_posix()) for p in files)}])")
    assert counted == [(_hour_rows(emulator),)]
