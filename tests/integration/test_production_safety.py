"""What a production pipeline meets, end to end on the emulator: versioned buckets, overlapping runs
on a concurrency budget, notification batches near Lambda's payload limit, and an emulator that
cleans up after itself whatever fails."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
from dataclasses import replace

import pytest

from landfall.core.layout import report_key
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall_emulator.emulator import Emulator, wait_for
from tests.integration.conftest import curated_files, execution_arn_of, read_json, start_run
from tests.paths import TEMPLATE_PATH
from tests.tables import parquet_rows

pytestmark = pytest.mark.emulator

GOOD = b'{"event_id":"%s","ts":"2026-11-22T13:05:00Z","type":"click","value":1}'


def new_runs(emulator: Emulator, before: set[str]) -> list[dict]:
    return [e for e in emulator.executions() if e["name"] not in before]


def test_two_versions_of_one_key_are_two_objects_each_processed_once(emulator):
    s3 = emulator.client("s3")
    s3.put_bucket_versioning(Bucket=emulator.landing_bucket, VersioningConfiguration={"Status": "Enabled"})
    try:
        before = {e["name"] for e in emulator.executions()}
        key = "raw/2026/11/22/13/versioned.gz"
        first = s3.put_object(Bucket=emulator.landing_bucket, Key=key, Body=gzip.compress(GOOD % b"a" + b"\n"))
        second = s3.put_object(
            Bucket=emulator.landing_bucket, Key=key, Body=gzip.compress(GOOD % b"b" + b"\n" + GOOD % b"c" + b"\n")
        )
        emulator.wait_for_ingestion(2)
    finally:
        s3.put_bucket_versioning(Bucket=emulator.landing_bucket, VersioningConfiguration={"Status": "Suspended"})
    (execution,) = new_runs(emulator, before)
    assert emulator.wait_for_execution(execution["executionArn"])["status"] == "SUCCEEDED"
    report = read_json(emulator, emulator.pipeline_bucket, report_key(execution["name"]))
    assert report["reconciliation"] == {"ok": True, "problems": []}
    assert (report["objects"]["in_manifest"], report["objects"]["processed"], report["records"]["valid"]) == (2, 2, 3)
    files = curated_files(emulator, execution["name"])  # the batches' files: versions share them
    assert {f["partition"] for f in files} == {"dt=2026-11-22/hour=13"} and sum(f["rows"] for f in files) == 3
    rows = parquet_rows(s3, emulator.pipeline_bucket, [f["key"] for f in files])
    for version, ids in ((first["VersionId"], ["a"]), (second["VersionId"], ["b", "c"])):  # each its own rows
        assert [r["event_id"] for r in rows if r["source_version_id"] == version] == ids


def test_overlapping_runs_share_the_processor_ceiling_and_both_finish(emulator, monkeypatch):
    """A processor reserved concurrency of 1: two runs at once meet throttles, wait with backoff, and both
    complete."""
    processor = emulator.function_name("ProcessorFunction")
    spec = emulator.lambdas.functions[processor]
    assert spec.reserved_concurrency is None  # the default reserves nothing: a ceiling of 1 here
    monkeypatch.setitem(emulator.lambdas.functions, processor, replace(spec, reserved_concurrency=1))
    throttled = emulator.lambdas.throttled.get(processor, 0)
    s3 = emulator.client("s3")
    config = RunConfig(
        max_concurrency=4, max_items_per_batch=1, max_batch_bytes=1 << 20, tolerated_failure_percentage=0
    )
    started = []
    for run in range(2):
        items = []
        for n in range(4):
            key = f"t/overlap/{run}/{n}.gz"
            body = gzip.compress(b"\n".join(GOOD % f"{run}-{n}-{i}".encode() for i in range(50)) + b"\n")
            s3.put_object(Bucket=emulator.pipeline_bucket, Key=key, Body=body)
            items.append(ManifestItem(bucket=emulator.pipeline_bucket, key=key, size=len(body)))
        started.append(start_run(emulator, items, config))
    for run in started:
        assert emulator.wait_for_execution(execution_arn_of(emulator, run), timeout=300)["status"] == "SUCCEEDED"
        report = read_json(emulator, emulator.pipeline_bucket, report_key(run.run_id))
        assert report["objects"]["processed"] == 4 and report["reconciliation"]["ok"]
    assert emulator.lambdas.throttled.get(processor, 0) > throttled  # the ceiling held: invocations over it waited


def test_a_notification_batch_is_cut_at_lambdas_6_mb_of_payload(emulator):
    sqs = emulator.client("sqs")
    (source,) = emulator.event_sources
    handled, failed, invocations = source.messages_handled, source.messages_failed, source.invocations
    padding = "x" * (200 * 1024)
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "padding": padding})  # ignored: no run
    queue = emulator.queue_url("IngestQueue")
    for _ in range(40):  # 8 MB in all
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    emulator.wait_for_ingestion(40)
    assert (source.messages_handled - handled, source.messages_failed - failed) == (40, 0)
    assert source.invocations - invocations >= 2  # 8 MB of messages: two invocations at least
    assert source.largest_payload <= 6 * 1024 * 1024


def test_the_event_source_survives_an_error_that_is_not_from_aws(emulator, monkeypatch):
    (source,) = emulator.event_sources
    receive = source.sqs.receive_message
    raised = []

    def flaky(**kwargs):
        if not raised:
            raised.append(True)
            raise ValueError("something unexpected")
        return receive(**kwargs)

    monkeypatch.setattr(source.sqs, "receive_message", flaky)
    wait_for(lambda: raised, 10, "the poller to meet the error")
    assert source.is_alive()
    assert any("something unexpected" in error for error in source.errors)
    monkeypatch.undo()


START_THAT_FAILS = """
import sys, threading
from pathlib import Path
from landfall_emulator import emulator as module
from landfall_emulator.emulator import Emulator, EmulatorTimeout

original = module.Emulator._create_resources
started = []

def failing(self):
    started.append(self)
    original(self)  # the server, the functions and the event sources are up
    raise EmulatorTimeout("the event sources did not settle")

module.Emulator._create_resources = failing
if __name__ == "__main__":
    try:
        with Emulator(template=Path(sys.argv[1]), parameter_overrides={"IngestBatchingWindowSeconds": "1"}):
            sys.exit("started")
    except EmulatorTimeout:
        print(started[0].endpoint_url)
        print(",".join(t.name for t in threading.enumerate() if t.name.startswith("esm-") and t.is_alive()))
"""


def test_an_emulator_whose_start_fails_stops_everything_it_had_started(tmp_path):
    script = tmp_path / "start_that_fails.py"
    script.write_text(START_THAT_FAILS)
    done = subprocess.run(  # noqa: S603 - this interpreter, a script the test wrote
        [sys.executable, str(script), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=120, check=True
    )
    url, threads = done.stdout.splitlines()[-2:]
    assert threads == ""  # no event source left polling
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex((host, int(port))) != 0  # the server has stopped


def test_a_second_emulator_in_one_process_is_refused_and_leaves_the_first_untouched(emulator: Emulator):
    """moto's backends are the process's: a second emulator would reset the first's resources under it."""
    with pytest.raises(RuntimeError, match="already running in this process"):
        Emulator(template=TEMPLATE_PATH, parameter_overrides={"IngestBatchingWindowSeconds": "1"}).start()
    assert emulator.client("s3").head_bucket(Bucket=emulator.landing_bucket)
    assert emulator.function_name("ProcessorFunction") in emulator.lambdas.functions
