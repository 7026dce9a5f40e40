"""The real state machine, the real handlers, end to end on the embedded emulator."""

from __future__ import annotations

import gzip
import json

import pytest

from landfall.core.layout import report_key, results_prefix
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs.samples import make_dataset
from landfall_emulator import map_children
from tests.integration.conftest import (
    curated_files,
    execution_arn_of,
    manifest_keys,
    object_summaries,
    read_json,
    read_result_file,
    start_run,
)
from tests.tables import parquet_rows

pytestmark = pytest.mark.emulator

GOOD = b'{"event_id":"%s","ts":"2026-11-22T13:05:00Z","type":"purchase","value":2.5}'


def run_manifest(emulator, items: list[ManifestItem], **config) -> tuple[str, dict]:
    """Start a run over `items` as the manifest writer would, wait for its end."""
    settings = {
        "max_concurrency": 2,
        "max_items_per_batch": 1,
        "max_batch_bytes": 256 << 20,
        "tolerated_failure_percentage": 0.0,
        **config,
    }
    started = start_run(emulator, items, RunConfig(**settings))
    return started.run_id, emulator.wait_for_execution(execution_arn_of(emulator, started))


def land(emulator, prefix: str, bodies: dict[str, bytes]) -> list[ManifestItem]:
    s3 = emulator.client("s3")
    items = []
    for name, body in bodies.items():
        key = f"{prefix}/{name}"
        s3.put_object(Bucket=emulator.pipeline_bucket, Key=key, Body=body)
        items.append(ManifestItem(bucket=emulator.pipeline_bucket, key=key, size=len(body)))
    return items


def report_of(emulator, run_id: str) -> dict:
    return read_json(emulator, emulator.pipeline_bucket, report_key(run_id))


def test_landed_objects_are_processed_by_themselves_and_everything_reconciles(emulator):
    dataset = make_dataset(objects=6, records=300, bad_ratio=0.05, seed=11, stream="happy")
    s3 = emulator.client("s3")
    before = {e["name"] for e in emulator.executions()}
    for obj in dataset.objects:
        s3.put_object(Bucket=emulator.landing_bucket, Key=obj.key, Body=obj.body)
    emulator.wait_for_ingestion(len(dataset.objects), timeout=120)
    (execution,) = [e for e in emulator.executions() if e["name"] not in before]
    described = emulator.wait_for_execution(execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")

    report = report_of(emulator, execution["name"])
    assert report["status"] == "SUCCEEDED"
    assert report["reconciliation"] == {"ok": True, "problems": []}
    assert report["objects"] == {
        "in_manifest": 6,
        "processed": 6,
        "failed": 0,
        "pending": 0,
        "without_delimiters": 0,
        "failed_for_good": 0,
    }
    assert report["records"]["read"] == dataset.records
    assert report["records"]["rejected"] == dataset.bad
    assert sum(t["count"] for t in report["aggregates"]["by_type"].values()) == dataset.records - dataset.bad

    files = curated_files(emulator, execution["name"])
    rows = parquet_rows(s3, emulator.pipeline_bucket, [file["key"] for file in files])
    assert len(rows) == sum(file["rows"] for file in files) == report["records"]["written"]
    summaries = object_summaries(emulator, execution["name"])
    assert sum(n for obj in summaries for n in obj["rows_by_partition"].values()) == len(rows)
    assert len(rows) == dataset.records - dataset.bad


def test_bad_records_are_quarantined_with_line_and_reason(emulator):
    body = gzip.compress(b"\n".join([GOOD % b"a", b"{oops", GOOD % b"b", b'{"event_id": 1}', b"\xff\xfe"]))
    items = land(emulator, "t/quarantine", {"mixed.gz": body})
    run_id, described = run_manifest(emulator, items)
    assert described["status"] == "SUCCEEDED"
    report = report_of(emulator, run_id)
    assert report["records"] | {"rejected_by_reason": None} == {
        "read": 5,
        "valid": 2,
        "rejected": 3,
        "written": 2,
        "rejected_by_reason": None,
    }
    assert report["records"]["rejected_by_reason"] == {"invalid_json": 1, "schema": 1, "invalid_utf8": 1}
    (quarantine,) = emulator.client("s3").list_objects_v2(
        Bucket=emulator.pipeline_bucket, Prefix=report["outputs"]["quarantine_prefix"]
    )["Contents"]
    entries = read_result_file(emulator, emulator.pipeline_bucket, quarantine["Key"])
    assert [(e["line"], e["reason"]) for e in entries] == [(2, "invalid_json"), (4, "schema"), (5, "invalid_utf8")]
    assert entries[2]["raw_base64"] == "//4="


def test_one_object_failing_within_tolerance(emulator):
    items = land(emulator, "t/within", {f"{n}.gz": gzip.compress(GOOD % str(n).encode()) for n in range(4)})
    unreadable = ManifestItem(bucket="no-such-bucket", key="raw/lost.gz", size=10)
    run_id, described = run_manifest(emulator, [*items, unreadable], tolerated_failure_percentage=25.0)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    report = report_of(emulator, run_id)
    assert report["status"] == "PARTIAL" and report["reconciliation"]["ok"]
    assert report["objects"] == {
        "in_manifest": 5,
        "processed": 4,
        "failed": 1,
        "pending": 0,
        "without_delimiters": 0,
        "failed_for_good": 0,
    }
    (failure,) = report["failures"]
    assert (failure["key"], failure["kind"]) == ("raw/lost.gz", "batch")
    assert "NoSuchBucket" in failure["error"]
    redrive = emulator.client("s3").get_object(
        Bucket=emulator.pipeline_bucket, Key=report["outputs"]["redrive_manifest_key"]
    )
    assert manifest_keys(redrive["Body"].read()) == ["raw/lost.gz"]
    s3 = emulator.client("s3")
    listed = s3.list_objects_v2(Bucket=emulator.pipeline_bucket, Prefix=results_prefix(run_id) + "/")["Contents"]
    manifest = read_json(
        emulator, emulator.pipeline_bucket, next(o["Key"] for o in listed if o["Key"].endswith("manifest.json"))
    )
    (failed_file,) = manifest["ResultFiles"]["FAILED"]
    (failed,) = read_result_file(emulator, emulator.pipeline_bucket, failed_file["Key"])
    assert json.loads(failed["Input"])["Items"][0]["key"] == "raw/lost.gz"


def test_failures_beyond_tolerance_fail_the_execution_after_the_report_is_written(emulator):
    items = land(emulator, "t/beyond", {"ok.gz": gzip.compress(GOOD % b"ok")})
    lost = [ManifestItem(bucket="no-such-bucket", key=f"raw/lost-{n}.gz", size=10) for n in range(3)]
    run_id, described = run_manifest(emulator, [*items, *lost], tolerated_failure_percentage=10.0, max_concurrency=1)
    assert described["status"] == "FAILED"
    assert described["error"] == "Landfall.MapRunFailed"
    report = report_of(emulator, run_id)
    assert report["status"] == "FAILED"
    assert "ExceedToleratedFailureThreshold" in report["map_error"]
    assert report["reconciliation"]["ok"], report["reconciliation"]["problems"]
    counts = report["objects"]
    assert counts["in_manifest"] == 4 == counts["processed"] + counts["failed"] + counts["pending"]
    assert counts["failed"] >= 1


def test_a_throttled_processor_is_retried_to_success(emulator):
    items = land(emulator, "t/throttle", {"a.gz": gzip.compress(GOOD % b"t")})
    emulator.lambdas.throttle(emulator.function_name("ProcessorFunction"), times=2)
    run_id, described = run_manifest(emulator, items)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert report_of(emulator, run_id)["objects"]["processed"] == 1
    assert len(map_children.retry_clock.requested) == 2  # two backoffs, no real sleep
