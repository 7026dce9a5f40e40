"""A maintenance run's steps as its state machine runs them, the map's children in between as the
ResultWriter records them: the plan's items read back whole, the children added up, the housekeeping pass
and the report beside the pipeline's runs'."""

from __future__ import annotations

import json
from datetime import timedelta

from landfall.core.costs import COMMIT_GLUE_REQUESTS, COMMIT_S3_PUTS, estimate
from landfall.core.layout import report_key, results_prefix
from landfall.core.settings import parse_settings
from landfall.upkeep.maintenance import CHILD_TRANSITIONS, UPKEEP_TRANSITIONS, compact_item, finish_run, plan_run
from landfall.upkeep.messages import CompactionItem, UpkeepEvent, UpkeepReport, UpkeepRequest
from landfall.upkeep.settings import UpkeepSettings
from tests.unit.upkeep.conftest import BUCKET, EVENTS, HOUR, LATER, NEXT_HOUR, commit_files

SETTINGS = parse_settings(
    UpkeepSettings,
    {"DATABASE": "db", "PIPELINE_BUCKET": BUCKET, "TARGET_FILE_MIB": "16", "ORPHAN_WINDOW_DAYS": "1"}
    | {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"},
)


def _items(s3, state) -> list[CompactionItem]:
    body = s3.get_object(Bucket=state.items.bucket, Key=state.items.key)["Body"].read()
    return [CompactionItem.model_validate_json(line) for line in body.splitlines()]


def _result_writer(s3, upkeep_id: str, records: list[dict]) -> dict:
    """The map's results as the ResultWriter leaves them (JSONL), and the map's output naming them."""
    key = f"{results_prefix(upkeep_id)}/map-run/SUCCEEDED_0.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(r) + "\n" for r in records).encode())
    files = {"SUCCEEDED": [{"Key": key, "Size": 1}], "FAILED": [], "PENDING": []}
    manifest = {"DestinationBucket": BUCKET, "MapRunArn": "arn:map-run", "ResultFiles": files}
    s3.put_object(Bucket=BUCKET, Key=f"{results_prefix(upkeep_id)}/map-run/manifest.json", Body=json.dumps(manifest))
    return {"ResultWriterDetails": {"Bucket": BUCKET, "Key": f"{results_prefix(upkeep_id)}/map-run/manifest.json"}}


def test_a_run_plans_compacts_and_reports_every_partition_and_row(catalog, s3):
    commit_files(catalog, s3, "r1", 6)
    commit_files(catalog, s3, "r2", 4, partition=NEXT_HOUR)
    rows = catalog.load_table("db.events").scan().to_arrow().num_rows
    request = UpkeepRequest(upkeep_id="upkeep-1")
    state = plan_run(request, s3, catalog, EVENTS, SETTINGS, LATER)
    items = _items(s3, state)
    assert state.item_count == len(items) == 2 and {i.partition for i in items} == {HOUR, NEXT_HOUR}
    results = [compact_item(item, s3, catalog, EVENTS, memory_mb=1769) for item in items]  # the map's children
    records = [
        {"Status": "SUCCEEDED", "Output": r.model_dump_json(), "Input": i.model_dump_json()}
        for i, r in zip(items, results, strict=True)
    ]
    records.append(
        {"Status": "FAILED", "Error": "States.Timeout", "Cause": "Task timed out", "Input": items[0].model_dump_json()}
    )
    event = UpkeepEvent(**state.model_dump(), map_result=_result_writer(s3, "upkeep-1", records))
    report = finish_run(event, s3, catalog, SETTINGS, LATER + timedelta(days=30))
    assert (report.compaction.compacted, report.compaction.failed, report.compaction.files_in) == (2, 1, 10)
    assert report.compaction.files_out == 2 and report.compaction.rows == rows
    assert report.status == "FAILED" and report.compaction.errors == [f"{HOUR}: States.Timeout: Task timed out"]
    assert catalog.load_table("db.events").scan().to_arrow().num_rows == rows  # every row, once
    kept = report.housekeeping
    # the replaced files stay while the runs' snapshots name them: the newest ten are never expired
    assert kept is not None and (kept.expiry.snapshots_before, kept.expiry.expired, kept.orphans.data.deleted) == (
        4,
        0,
        0,
    )
    written = s3.get_object(Bucket=BUCKET, Key=report_key("upkeep-1"))["Body"].read()
    assert UpkeepReport.model_validate_json(written) == report
    _assert_priced(report, state, results)


def _assert_priced(report: UpkeepReport, state, results) -> None:
    """The cost adds up what each step's clients requested and its Lambda time: every small file read,
    each new file and each commit written; the plan's items file; a transition pair a child."""
    assert report.cost is not None and all(r.gb_seconds > 0 for r in results) and state.plan_gb_seconds > 0
    used = report.cost.usage
    assert used.s3_gets >= report.compaction.files_in + state.plan_requests.s3_gets
    assert sum(r.requests.s3_puts for r in results) >= report.compaction.files_out + 2 * COMMIT_S3_PUTS
    assert sum(r.requests.glue for r in results) >= 2 * COMMIT_GLUE_REQUESTS and state.plan_requests.s3_puts == 1
    assert (used.lambda_requests, used.state_transitions) == (2 + 2, UPKEEP_TRANSITIONS + 2 * CHILD_TRANSITIONS)
    assert used.lambda_gb_seconds > sum(r.gb_seconds for r in results) + state.plan_gb_seconds
    assert report.cost == estimate(used, report.compaction.bytes_in)


def test_a_run_limited_to_partitions_plans_only_them_and_nothing_to_do_skips_the_map(catalog, s3):
    commit_files(catalog, s3, "r1", 3)
    commit_files(catalog, s3, "r2", 3, partition=NEXT_HOUR)
    state = plan_run(UpkeepRequest(upkeep_id="u-2", partitions=[NEXT_HOUR]), s3, catalog, EVENTS, SETTINGS, LATER)
    assert [i.partition for i in _items(s3, state)] == [NEXT_HOUR]
    idle = plan_run(
        UpkeepRequest(upkeep_id="u-3", partitions=["dt=2026-01-01/hour=00"]), s3, catalog, EVENTS, SETTINGS, LATER
    )
    assert idle.items is None and idle.item_count == 0 and idle.planned.small_files == 6
    report = finish_run(UpkeepEvent(**idle.model_dump()), s3, catalog, SETTINGS, LATER)
    assert report.status == "SUCCEEDED" and report.compaction.items == 0 and report.housekeeping is not None
