"""The reducer against ResultWriter files written in AWS's documented format (Transformation NONE)."""

import dataclasses
import json
import time

import pytest

from landfall.core.costs import Prices
from landfall.core.layout import REPORTS_PREFIX, curated_key, manifest_key, report_key, results_prefix, summary_key
from landfall.core.messages import S3Location
from landfall.core.results import CorruptResultsError, find_manifest, read_manifest
from landfall.ingest.manifests import ManifestBuilder
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs import default_job
from landfall.jobs.events import EventsJob
from landfall.process.counts import ObjectCounts, RecordCounts
from landfall.reduce.accumulator import ResultAccumulator
from landfall.reduce.ledger import Ledger
from landfall.reduce.messages import ReducerEvent, RunReport
from landfall.reduce.reduction import reduce_run
from landfall.reduce.report import count_rows, totals
from landfall.reduce.report_text import render_markdown

BUCKET = "pipeline"
RUN = "notification-0123"
MAP_RUN = f"arn:aws:states:us-east-1:123456789012:mapRun:p/ProcessObjects:{'6f2a0a3e-3b53-4c47-b9b5-31c1c7d8c1a2'}"
PREFIX = f"{results_prefix(RUN)}/6f2a0a3e-3b53-4c47-b9b5-31c1c7d8c1a2/"
HOUR = "dt=2026-11-22/hour=13"


def item(key, version_id=None):
    return ManifestItem(bucket="landing", key=key, size=100, version_id=version_id)


def summary(key, valid=3, rejected=1, status="processed", error=None, version_id=None):
    return {
        "version": 4,
        "bucket": "landing",
        "key": key,
        "version_id": version_id,
        "status": status,
        "error": error,
        "bytes_read": 100,
        "records": valid + rejected if status == "processed" else 0,
        "valid": valid if status == "processed" else 0,
        "rejected": rejected if status == "processed" else 0,
        "rejected_by_reason": {"schema": rejected} if status == "processed" and rejected else {},
        "rows_by_partition": {HOUR: valid} if status == "processed" and valid else {},
        "aggregates": {
            "by_type": {"click": {"count": valid, "sum": 2.0 * valid, "min": 1.0, "max": 3.0}},
            "by_hour": {"2026-11-22T13": valid},
        }
        if status == "processed"
        else {},
    }


def child_input(*keys):
    items = [item(*k) if isinstance(k, tuple) else item(k) for k in keys]
    return {
        "BatchInput": {"version": 4, "run_id": RUN, "output_bucket": BUCKET},
        "Items": [i.model_dump() for i in items],
    }


def record(status, keys, output=None, error=None, cause=None):
    base = {
        "ExecutionArn": f"arn:aws:states:us-east-1:123456789012:execution:p/ProcessObjects:{keys[0]!s}",
        "Input": json.dumps(child_input(*keys)),
        "InputDetails": {"Included": True},
        "Name": str(keys[0]),
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "StartDate": "2026-11-22T13:05:00.123Z",
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:p/ProcessObjects",
        "Status": status,
        "StopDate": "2026-11-22T13:05:02.456Z",
    }
    if status == "SUCCEEDED":
        base["Output"] = json.dumps(output)
        base["OutputDetails"] = {"Included": True}
    elif status == "PENDING":
        base = {"Input": base["Input"], "InputDetails": {"Included": True}, "Status": "PENDING"}
    else:
        base.update(Error=error, Cause=cause)
    return base


def files_of(*summaries, batch="batch"):
    """The files a batch of these objects wrote: one per partition, holding its objects' rows (9 bytes each)."""
    rows: dict[str, int] = {}
    for each in summaries:
        for partition, count in each.get("rows_by_partition", {}).items():
            rows[partition] = rows.get(partition, 0) + count
    return [
        {"key": curated_key("events", RUN, partition, batch), "rows": n, "bytes": 9 * n, "partition": partition}
        for partition, n in sorted(rows.items())
    ]


def batch_output(*summaries):
    """A processor's output: its objects' aggregates merged into the batch's, as the processor does, and
    the files they wrote."""
    aggregates = default_job().new_aggregate()
    for each in summaries:
        aggregates = default_job().merge(aggregates, each.get("aggregates", {}))
    objects = [each | {"aggregates": {}} for each in summaries]
    files = files_of(*summaries, batch=summaries[0]["key"].replace("/", "-") if summaries else "empty")
    return {"version": 4, "run_id": RUN, "objects": objects, "files": files, "aggregates": aggregates, "duration_ms": 5}


def put_results(s3, files):
    """files: {"SUCCEEDED": [(records, "JSONL"|"JSON"), ...], ...} → manifest.json like ResultWriter's."""
    result_files = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for kind, entries in files.items():
        for n, (records, output_type) in enumerate(entries):
            if output_type == "JSONL":
                body = "".join(json.dumps(r) + "\n" for r in records).encode()
            else:
                body = json.dumps(records, indent=2).encode()
            key = f"{PREFIX}{kind}_{n}.json"
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            result_files[kind].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": BUCKET, "MapRunArn": MAP_RUN, "ResultFiles": result_files}
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}manifest.json", Body=json.dumps(manifest).encode())


def reducer_event(s3, keys, map_error=None, tolerance=10.0):
    """The manifest of `keys` (or (key, version) pairs) as the manifest writer writes it, and the event."""
    config = RunConfig(
        max_concurrency=1, max_items_per_batch=2, max_batch_bytes=1000, tolerated_failure_percentage=tolerance
    )
    builder = ManifestBuilder(config)
    for key in sorted(keys):
        builder.add(item(*key) if isinstance(key, tuple) else item(key))
    location = S3Location(bucket=BUCKET, key=manifest_key("notification", RUN))
    builder.upload(s3, location)
    return ReducerEvent(
        run_id=RUN,
        source="notification",
        manifest=location,
        objects=len(keys),
        bytes=100 * len(keys),
        batches=builder.batches,
        output_bucket=BUCKET,
        config=config,
        map_error=map_error,
    )


def redrive_objects(s3, report):
    """(key, version) of every object of the run's redrive manifest, each of its lines a batch."""
    body = s3.get_object(Bucket=BUCKET, Key=report.outputs.redrive_manifest_key)["Body"].read()
    return [(o["key"], o.get("version_id")) for line in body.splitlines() for o in json.loads(line)["objects"]]


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket=BUCKET)
    return s3


def test_every_kind_of_result_file_is_read_and_reconciled(bucket):
    keys = ["raw/a", "raw/b", "raw/c", "raw/d", "raw/e", "raw/f", "raw/g"]
    both = batch_output(summary("raw/a"), summary("raw/b"))
    missing = batch_output(summary("raw/c", status="failed", error="s3 NoSuchKey") | {"failure": "missing"})
    put_results(
        bucket,
        {
            "SUCCEEDED": [
                ([record("SUCCEEDED", ["raw/a", "raw/b"], both)], "JSONL"),
                ([record("SUCCEEDED", ["raw/c"], missing)], "JSON"),
            ],
            "FAILED": [
                ([record("FAILED", ["raw/d"], error="TransientError", cause="s3 SlowDown")], "JSONL"),
                ([record("FAILED", ["raw/e"], error="BatchFailed", cause="boom")], "JSON"),
            ],
            "PENDING": [([record("PENDING", ["raw/f"])], "JSONL"), ([record("PENDING", ["raw/g"])], "JSON")],
        },
    )
    report = reduce_run(reducer_event(bucket, keys, tolerance=80), bucket, default_job())
    assert report.status == "PARTIAL", report.status_reason
    assert report.reconciliation.ok, report.reconciliation.problems
    assert dataclasses.asdict(report.objects) == {
        "in_manifest": 7,
        "processed": 2,
        "failed": 3,
        "failed_for_good": 1,
        "pending": 2,
        "without_delimiters": 0,
    }
    assert (report.records.read, report.records.valid, report.records.rejected) == (8, 6, 2)
    assert report.aggregates["by_type"]["click"]["count"] == 6
    assert {(f.key, f.kind) for f in report.failures} == {
        ("raw/c", "object"),
        ("raw/d", "batch"),
        ("raw/e", "batch"),
        ("raw/f", "pending"),
        ("raw/g", "pending"),
    }
    # raw/c is gone: no retry can read it, so it is not redriven
    assert sorted(key for key, _ in redrive_objects(bucket, report)) == ["raw/d", "raw/e", "raw/f", "raw/g"]
    stored = json.loads(bucket.get_object(Bucket=BUCKET, Key=report.outputs.report_key)["Body"].read())
    assert stored["status"] == "PARTIAL" and stored["version"] == 4
    markdown = bucket.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    assert "raw/d" in markdown and "TransientError: s3 SlowDown" in markdown


def test_an_object_missing_from_the_results_fails_the_run_and_is_named(bucket):
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(summary("raw/a")))], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/lost"]), bucket, default_job())
    assert report.status == "FAILED"
    assert any("raw/lost" in problem for problem in report.reconciliation.problems)


def test_records_that_do_not_add_up_fail_the_run(bucket):
    broken = summary("raw/a") | {"records": 10}
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(broken))], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a"]), bucket, default_job())
    assert report.status == "FAILED"
    assert "10 records read" in report.reconciliation.problems[0]


def test_a_map_failure_fails_the_run_but_the_report_is_written(bucket):
    put_results(bucket, {"FAILED": [([record("FAILED", ["raw/a"], error="BatchFailed", cause="x")], "JSONL")]})
    error = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "threshold exceeded"}
    report = reduce_run(reducer_event(bucket, ["raw/a"], map_error=error), bucket, default_job())
    assert report.status == "FAILED" and report.reconciliation.ok
    assert "ExceedToleratedFailureThreshold" in report.map_error
    assert bucket.head_object(Bucket=BUCKET, Key=report.outputs.report_key)


def test_a_corrupt_result_file_is_a_clear_error_and_nothing_is_reported(bucket):
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(summary("raw/a")))], "JSONL")]})
    bucket.put_object(
        Bucket=BUCKET, Key=f"{PREFIX}SUCCEEDED_0.json", Body=b'{"Status": "SUCCEEDED", "Output": "{\\"ver'
    )
    with pytest.raises(CorruptResultsError, match="SUCCEEDED_0.json"):
        reduce_run(reducer_event(bucket, ["raw/a"]), bucket, default_job())
    assert "Contents" not in bucket.list_objects_v2(Bucket=BUCKET, Prefix=REPORTS_PREFIX)


@pytest.mark.parametrize(("tolerance", "status"), [(50.0, "PARTIAL"), (49.9, "FAILED")])
def test_failed_objects_beyond_the_tolerance_fail_the_run(bucket, tolerance, status):
    outcome = batch_output(summary("raw/a"), summary("raw/b", status="failed", error="truncated gzip stream"))
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a", "raw/b"], outcome)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/b"], tolerance=tolerance), bucket, default_job())
    assert report.status == status
    assert report.reconciliation.ok
    assert "1 of 2 objects failed" in report.status_reason


def test_object_summaries_kept_in_s3_are_read_and_batch_aggregates_merged(bucket):
    spilled = "".join(json.dumps(summary(k) | {"aggregates": {}}) + "\n" for k in ("raw/a", "raw/b"))
    bucket.put_object(Bucket=BUCKET, Key=summary_key(RUN, "batch-1"), Body=spilled.encode())
    output = batch_output() | {
        "objects_key": summary_key(RUN, "batch-1"),
        "files": files_of(summary("raw/a"), summary("raw/b")),
        "aggregates": {"by_type": {"click": {"count": 6, "sum": 12.0, "min": 1.0, "max": 3.0}}, "by_hour": {}},
    }
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a", "raw/b"], output)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/b"]), bucket, default_job())
    assert report.status == "SUCCEEDED" and report.reconciliation.ok
    assert (report.objects.processed, report.records.read) == (2, 8)
    assert report.aggregates["by_type"]["click"]["count"] == 6


def test_objects_without_delimiters_are_counted(bucket):
    undelimited = summary("raw/a") | {"framing": "concatenated"}
    put_results(
        bucket,
        {
            "SUCCEEDED": [
                ([record("SUCCEEDED", ["raw/a", "raw/b"], batch_output(undelimited, summary("raw/b")))], "JSONL")
            ]
        },
    )
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/b"]), bucket, default_job())
    assert report.objects.without_delimiters == 1


def test_json_array_files_are_streamed_and_every_record_counted(bucket):
    keys = [f"raw/{n:05d}" for n in range(3000)]
    records = [record("SUCCEEDED", [k], batch_output(summary(k))) for k in keys]
    put_results(bucket, {"SUCCEEDED": [(records[:1700], "JSON"), (records[1700:], "JSON")]})
    report = reduce_run(reducer_event(bucket, keys), bucket, default_job())
    assert report.status == "SUCCEEDED" and report.reconciliation.ok, report.reconciliation.problems
    assert (report.objects.processed, report.records.read) == (3000, 12000)


def test_a_corrupt_json_array_file_is_a_clear_error(bucket):
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(summary("raw/a")))], "JSON")]})
    bucket.put_object(Bucket=BUCKET, Key=f"{PREFIX}SUCCEEDED_0.json", Body=b'[{"Status": "SUCCEEDED", "Output": ')
    with pytest.raises(CorruptResultsError, match="SUCCEEDED_0.json"):
        reduce_run(reducer_event(bucket, ["raw/a"]), bucket, default_job())
    assert "Contents" not in bucket.list_objects_v2(Bucket=BUCKET, Prefix=REPORTS_PREFIX)


def test_a_batch_whose_input_was_not_included_cannot_be_accounted_for(bucket):
    failed = record("FAILED", ["raw/b"], error="States.TaskFailed", cause="boom")
    failed["InputDetails"] = {"Included": False}
    del failed["Input"]
    put_results(
        bucket,
        {
            "SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(summary("raw/a")))], "JSONL")],
            "FAILED": [([failed], "JSONL")],
        },
    )
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/b"]), bucket, default_job())
    assert report.status == "FAILED" and not report.reconciliation.ok
    assert any("input was not included" in p for p in report.reconciliation.problems)
    assert any("raw/b" in p for p in report.reconciliation.problems)  # named as not accounted for
    assert redrive_objects(bucket, report) == [("raw/b", None)]


def test_many_failures_are_listed_up_to_a_limit_and_all_redriven(bucket):
    keys = [f"raw/{n:05d}" for n in range(1200)]
    put_results(bucket, {"PENDING": [([record("PENDING", [k]) for k in keys], "JSONL")]})
    report = reduce_run(reducer_event(bucket, keys, tolerance=100), bucket, default_job())
    assert report.objects.pending == 1200 and report.reconciliation.ok
    assert (len(report.failures), report.failures_omitted) == (1000, 200)
    assert len(redrive_objects(bucket, report)) == 1200
    markdown = bucket.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    assert "200 more" in markdown


def test_the_report_estimates_the_runs_cost_from_what_the_processors_measured(bucket):
    one = batch_output(summary("raw/a") | {"s3_gets": 1, "s3_puts": 2}) | {"duration_ms": 2000, "memory_mb": 2048}
    two = batch_output(summary("raw/b") | {"s3_gets": 1, "s3_puts": 7}) | {"duration_ms": 4000, "memory_mb": 2048}
    put_results(
        bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], one), record("SUCCEEDED", ["raw/b"], two)], "JSONL")]}
    )
    prices = Prices(
        lambda_gb_second=1.0,
        lambda_request=0,
        state_transition=0,
        express_request=0,
        express_gb_second=0,
        s3_get=0,
        s3_put=0,
    )
    event = reducer_event(bucket, ["raw/a", "raw/b"])
    started = time.monotonic()
    report = reduce_run(event, bucket, default_job(), prices=prices)
    spent = time.monotonic() - started
    usage = report.cost.usage
    assert 12.0 <= usage.lambda_gb_seconds <= 12.0 + spent  # 2 s + 4 s at 2 GB, and the reducer's time at 1 GB
    assert report.cost.lambda_usd == pytest.approx(usage.lambda_gb_seconds)
    # STANDARD children: the map's transition to start each, and each child's own task
    assert (usage.express_requests, usage.state_transitions, usage.lambda_requests) == (0, 6 + 2 * 2, 4)
    assert usage.s3_gets >= 2 + 3 and usage.s3_puts >= 9 + 3
    assert report.cost.usd_per_gb == pytest.approx(report.cost.total_usd / (200 / 1e9), rel=1e-3)
    markdown = bucket.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    assert "Estimated AWS cost" in markdown


def test_two_versions_of_one_key_are_two_objects_each_accounted_for_once(bucket):
    keys = [("raw/a", "v1"), ("raw/a", "v2"), ("raw/b", None)]
    both = batch_output(
        summary("raw/a", version_id="v1"), summary("raw/a", version_id="v2", status="failed", error="s3 NoSuchVersion")
    )
    put_results(
        bucket,
        {
            "SUCCEEDED": [([record("SUCCEEDED", [("raw/a", "v1"), ("raw/a", "v2")], both)], "JSONL")],
            "FAILED": [([record("FAILED", ["raw/b"], error="BatchFailed", cause="x")], "JSONL")],
        },
    )
    report = reduce_run(reducer_event(bucket, keys, tolerance=100), bucket, default_job())
    assert report.reconciliation.ok, report.reconciliation.problems
    assert (report.objects.in_manifest, report.objects.processed, report.objects.failed) == (3, 1, 2)
    assert {(f.key, f.version_id, f.kind) for f in report.failures} == {
        ("raw/a", "v2", "object"),
        ("raw/b", None, "batch"),
    }
    assert sorted(redrive_objects(bucket, report), key=str) == [("raw/a", "v2"), ("raw/b", None)]


def test_the_same_version_reported_twice_is_named(bucket):
    twice = batch_output(summary("raw/a", version_id="v1"), summary("raw/a", version_id="v1"))
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", [("raw/a", "v1")], twice)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, [("raw/a", "v1"), ("raw/a", "v2")]), bucket, default_job())
    assert report.status == "FAILED"
    assert "s3://landing/raw/a?versionId=v1 was processed and processed" in report.reconciliation.problems


def test_aggregates_kept_in_s3_are_read(bucket):
    aggregates = {"by_type": {"click": {"count": 7, "sum": 7.0, "min": 1.0, "max": 1.0}}, "by_hour": {}}
    bucket.put_object(Bucket=BUCKET, Key=summary_key(RUN, "b-aggregates"), Body=json.dumps({"aggregates": aggregates}))
    output = batch_output(summary("raw/a") | {"aggregates": {}}) | {"aggregates_key": summary_key(RUN, "b-aggregates")}
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], output)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a"]), bucket, default_job())
    assert report.reconciliation.ok and report.aggregates["by_type"]["click"]["count"] == 7


def test_a_job_whose_merge_fails_still_gets_a_report_that_names_it(bucket):
    class BrokenMerge(EventsJob):
        def merge(self, left, right):
            raise TypeError("cannot merge these")

    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(summary("raw/a")))], "JSONL")]})
    output = batch_output(summary("raw/a")) | {"aggregates": {"by_type": {}, "by_hour": {"x": 1}}}
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], output)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a"]), bucket, BrokenMerge())
    assert report.objects.processed == 1 and report.status == "FAILED"
    assert any("could not be merged: TypeError" in p for p in report.reconciliation.problems)


def test_every_count_of_the_report_model_shows_in_every_view(bucket):
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], batch_output(summary("raw/a")))], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a"]), bucket, default_job())
    markdown = render_markdown(report)
    rows = dict(count_rows(report.objects, report.records))
    for model in (ObjectCounts, RecordCounts):
        for field in dataclasses.fields(model):
            if field.type == "int":  # a count added to the model appears in report.md and the tables
                title = field.metadata.get("title")
                assert title and title in markdown and title in rows, field.name
    state = report.model_dump(mode="json", include=RunReport.STATE_FIELDS)
    assert state["objects"] == dataclasses.asdict(report.objects) and len(json.dumps(state)) < 4096
    assert RunReport.model_validate_json(report.model_dump_json()) == report  # the CLI reads report.json back
    total = totals([report, report])
    assert (total.objects.processed, total.records.rejected_by_reason) == (
        2 * report.objects.processed,
        {reason: 2 * n for reason, n in report.records.rejected_by_reason.items()},
    )


LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "s3://landing/raw/b (lines from 11 on): ArrowInvalid: all columns must have the same length",
        "errorType": "BatchFailed",
        "requestId": "5f0c",
        "stackTrace": ['  File "/var/task/app.py", line 17, in lambda_handler\n', "    raise run.failure(error)\n"],
    }
)


def test_a_failed_batch_names_its_error_once_without_the_stack_trace(bucket):
    keys = ["raw/a", "raw/b", "raw/c", "raw/d"]
    put_results(bucket, {"FAILED": [([record("FAILED", keys, error="BatchFailed", cause=LAMBDA_CAUSE)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, keys, tolerance=100), bucket, default_job())
    assert report.reconciliation.ok, report.reconciliation.problems
    errors = [failure.error for failure in report.failures]
    assert errors[0] == (
        "BatchFailed: s3://landing/raw/b (lines from 11 on): ArrowInvalid: all columns must have the same length"
    )
    assert errors[1:] == ["with its batch, as s3://landing/raw/a"] * 3
    markdown = bucket.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    assert markdown.count("all columns must have the same length") == 1 and "stackTrace" not in markdown


@pytest.mark.parametrize("error", ["States.Timeout", "Sandbox.Timedout", "Runtime.ExitError", "Lambda.Unknown"])
def test_a_batch_that_ended_without_removing_its_files_is_not_called_accounted_for(bucket, error):
    keys = ["raw/a", "raw/b"]
    put_results(bucket, {"FAILED": [([record("FAILED", keys, error=error, cause="Task timed out")], "JSONL")]})
    report = reduce_run(reducer_event(bucket, keys, tolerance=100), bucket, default_job())
    assert not report.reconciliation.ok and report.status == "FAILED"
    (problem,) = report.reconciliation.problems
    assert error in problem and "s3://landing/raw/a and 1 more" in problem
    markdown = bucket.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    assert "everything accounted for" not in markdown


def test_files_a_stopped_batch_left_are_named_and_the_others_are_not(bucket):
    done = batch_output(summary("raw/a"))
    (named,) = done["files"]
    left = curated_key("events", RUN, "dt=2026-11-22/hour=09", "crashed")  # the timed-out batch's file
    other_run = curated_key("events", "run-2", HOUR, "crashed")
    for key in (named["key"], left, other_run):
        bucket.put_object(Bucket=BUCKET, Key=key, Body=b"PAR1 rows PAR1")
    failed = [([record("FAILED", ["raw/b"], error="BatchFailed")], "JSONL")]
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a"], done)], "JSONL")], "FAILED": failed})
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/b"], tolerance=100), bucket, default_job())
    orphans = report.orphaned_files
    assert (orphans.prefix, orphans.count, orphans.bytes) == (f"curated/events/data/{RUN}/", 1, 14)
    assert orphans.keys == [left]
    assert any("1 data files (14 bytes)" in warning for warning in report.warnings)
    markdown = bucket.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    assert "left by batches that stopped before removing them" in markdown


def accumulated(s3, succeeded, failed, keys) -> ResultAccumulator:
    """What the reducer's accumulator makes of these result records."""
    put_results(s3, {"SUCCEEDED": [(succeeded, "JSONL")], "FAILED": [(failed, "JSONL")]})
    event = reducer_event(s3, keys, tolerance=100)
    accumulator = ResultAccumulator(s3, BUCKET, Ledger(s3, event.manifest), default_job())
    accumulator.add_map_run(read_manifest(s3, BUCKET, find_manifest(s3, BUCKET, results_prefix(RUN))))
    return accumulator


def test_the_files_of_every_succeeded_batch_are_gathered_for_the_commit_and_their_bytes_counted(bucket):
    a, b = summary("raw/a", valid=3), summary("raw/b", valid=5) | {"rows_by_partition": {"dt=2026-11-22/hour=12": 5}}
    c = summary("raw/c", valid=2)
    succeeded = [
        record("SUCCEEDED", ["raw/a", "raw/b"], batch_output(a, b)),
        record("SUCCEEDED", ["raw/c"], batch_output(c)),
    ]
    failed = [record("FAILED", ["raw/d"], error="BatchFailed", cause="boom")]  # wrote nothing that counts
    accumulator = accumulated(bucket, succeeded, failed, ["raw/a", "raw/b", "raw/c", "raw/d"])
    assert [(f.partition, f.rows) for f in accumulator.files] == [
        ("dt=2026-11-22/hour=12", 5),
        (HOUR, 3),
        (HOUR, 2),  # each batch its own file of an hour
    ]
    assert len({f.key for f in accumulator.files}) == 3
    assert accumulator.tally.curated_bytes == 9 * (5 + 3 + 2) and accumulator.tally.counts.records.written == 10
    assert accumulator.ledger.problems == []


def test_a_batch_whose_files_do_not_hold_its_objects_rows_is_a_problem(bucket):
    spilled = "".join(json.dumps(summary(k) | {"aggregates": {}}) + "\n" for k in ("raw/a", "raw/b"))
    bucket.put_object(Bucket=BUCKET, Key=summary_key(RUN, "batch-1"), Body=spilled.encode())  # read back from S3
    (file,) = files_of(summary("raw/a"), summary("raw/b"))
    stray = file | {"key": file["key"].replace("13", "14"), "partition": "dt=2026-11-22/hour=14", "rows": 1}
    output = batch_output() | {"objects_key": summary_key(RUN, "batch-1"), "files": [file | {"rows": 5}, stray]}
    put_results(bucket, {"SUCCEEDED": [([record("SUCCEEDED", ["raw/a", "raw/b"], output)], "JSONL")]})
    report = reduce_run(reducer_event(bucket, ["raw/a", "raw/b"]), bucket, default_job())
    assert not report.reconciliation.ok
    assert report.reconciliation.problems == [
        f"the files of the batch of s3://landing/raw/a hold 5 rows of {HOUR} but its objects wrote 6",
        "the files of the batch of s3://landing/raw/a hold 1 rows of dt=2026-11-22/hour=14 but its objects wrote 0",
    ]
