"""The stack adopted on a bucket of the user's: EventBridge's Object Created events feed the ingest queue,
objects under the prefix are processed, and nothing in the stack writes to that bucket."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from landfall.core.layout import report_key
from landfall.jobs.samples import make_dataset
from landfall_emulator.emulator import Emulator
from tests.paths import TEMPLATE_PATH

pytestmark = pytest.mark.emulator

BUCKET = "acme-firehose-landing"
PREFIX = "firehose/events/"
EARLIER = f"{PREFIX}2026/11/22/11/landed-before-the-stack.gz"  # what backfill is for
GOOD = b'{"event_id":"a-1","ts":"2026-11-22T11:05:00Z","type":"purchase","value":2.5}'


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator of its own (a stack of another shape): the package's is not running while it is."""
    overrides = {
        "ExistingLandingBucket": BUCKET,
        "LandingPrefix": PREFIX,
        "IngestBatchSize": "1000",
        "IngestBatchingWindowSeconds": "1",
        "MaxItemsPerBatch": "2",
    }
    logs = tmp_path_factory.mktemp("function-logs")
    with Emulator(template=TEMPLATE_PATH, parameter_overrides=overrides, log_dir=logs) as running:
        assert "LandingBucket" not in running.stack.resources and "DeliveryStream" not in running.stack.resources
        s3 = running.client("s3")
        s3.create_bucket(Bucket=BUCKET)  # the user's own bucket, made outside the stack
        s3.put_object(Bucket=BUCKET, Key=EARLIER, Body=gzip.compress(GOOD + b"\n" + GOOD.replace(b"a-1", b"a-2")))
        # the one-time step the README gives: turn on the bucket's EventBridge notifications
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        yield running


def _bucket_state(s3) -> dict:
    """Everything of the bucket a writer could change: its objects, their bodies' tags, its settings."""
    objects = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    settings = {}
    for read, name in (
        (s3.get_bucket_policy, "Policy"),
        (s3.get_bucket_lifecycle_configuration, "Rules"),
        (s3.get_bucket_tagging, "TagSet"),
    ):
        try:
            settings[name] = read(Bucket=BUCKET)[name]
        except s3.exceptions.ClientError:
            settings[name] = None
    settings["notifications"] = {
        k: v for k, v in s3.get_bucket_notification_configuration(Bucket=BUCKET).items() if k != "ResponseMetadata"
    }
    return {"objects": objects, "settings": settings}


def test_the_stack_creates_no_bucket_and_no_firehose_stream_and_listens_on_eventbridge(adopted: Emulator):
    buckets = {b["Name"] for b in adopted.client("s3").list_buckets()["Buckets"]}
    assert adopted.landing_bucket == BUCKET == adopted.stack.outputs()["LandingBucketName"]
    assert not any(name.startswith("landfall-landing") for name in buckets)
    assert adopted.client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    (rule,) = adopted.client("events").list_rules()["Rules"]
    assert json.loads(rule["EventPattern"])["detail"] == {
        "bucket": {"name": [BUCKET]},
        "object": {"key": [{"prefix": PREFIX}]},
    }


def test_objects_landing_in_an_existing_bucket_are_processed_and_the_bucket_is_untouched(adopted: Emulator):
    s3 = adopted.client("s3")
    dataset = make_dataset(objects=4, records=200, bad_ratio=0.05, seed=21, stream="adopted")
    outside = {"other-team/2026/11/22/13/theirs.gz": gzip.compress(b'{"x": 1}\n'), f"{PREFIX}folder/": b""}
    before = {e["name"] for e in adopted.executions()}
    for obj in dataset.objects:
        s3.put_object(Bucket=BUCKET, Key=PREFIX + obj.key.removeprefix("raw/"), Body=obj.body)
    for key, body in outside.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    landed = _bucket_state(s3)

    adopted.wait_for_ingestion(len(dataset.objects) + 1, timeout=120)  # the prefix's folder marker is dropped
    (execution,) = [e for e in adopted.executions() if e["name"] not in before]
    assert adopted.wait_for_execution(execution["executionArn"])["status"] == "SUCCEEDED"
    report = json.loads(s3.get_object(Bucket=adopted.pipeline_bucket, Key=report_key(execution["name"]))["Body"].read())
    assert report["objects"]["in_manifest"] == report["objects"]["processed"] == len(dataset.objects)
    assert report["records"]["read"] == dataset.records and report["records"]["rejected"] == dataset.bad
    assert report["reconciliation"] == {"ok": True, "problems": []}
    manifest = _manifest_items(s3, adopted.pipeline_bucket, execution["name"])
    assert {item["bucket"] for item in manifest} == {BUCKET}
    assert all(item["key"].startswith(PREFIX) and item["etag"] for item in manifest)  # EventBridge's fields
    assert _bucket_state(s3) == landed  # nothing written, deleted or reconfigured in the user's bucket


def _manifest_items(s3, bucket: str, run_id: str) -> list[dict]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="manifests/")["Contents"]
    (key,) = [o["Key"] for o in listed if run_id in o["Key"]]
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [item for line in body.splitlines() if line.strip() for item in json.loads(line)["objects"]]


def test_backfill_processes_what_landed_before_the_stack(adopted: Emulator, tmp_path: Path, monkeypatch):
    from landfall_cli.main import main
    from landfall_cli.target import write_local_state

    state = tmp_path / "local.json"
    write_local_state(state, adopted.endpoint_url, adopted.stack.region, adopted.stack.outputs())
    monkeypatch.setenv("LANDFALL_LOCAL_STATE", str(state))
    before = {e["name"] for e in adopted.executions()}
    assert main(["backfill", "--local", "--since", "2026-11-22T11", "--until", "2026-11-22T12"]) == 0
    (execution,) = [e for e in adopted.executions() if e["name"] not in before]
    assert adopted.wait_for_execution(execution["executionArn"])["status"] == "SUCCEEDED"
    s3 = adopted.client("s3")
    assert [item["key"] for item in _manifest_items(s3, adopted.pipeline_bucket, execution["name"])] == [EARLIER]
    report = json.loads(s3.get_object(Bucket=adopted.pipeline_bucket, Key=report_key(execution["name"]))["Body"].read())
    assert (report["objects"]["processed"], report["records"]["valid"]) == (1, 2)
