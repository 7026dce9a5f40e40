"""The emulator is as strict as AWS where the pipeline could break: what fails on AWS fails here first.

Each limit is shown failing the way AWS documents (or recorded, in LocalStack's snapshots of real
AWS), and the shipped configuration is shown staying inside them.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from botocore.config import Config

from landfall.layout import report_key
from landfall.models import ManifestItem, RunConfig
from landfall_cli.local import map_children
from landfall_cli.local.emulator import Emulator, wait_for
from landfall_cli.local.lambda_runtime import FunctionSpec
from tests.integration.conftest import execution_arn_of, read_json, read_result_file, run_definition, start_run

pytestmark = pytest.mark.emulator

HANDLER = """
import os, time

if os.environ.get("FAIL_COLD_START"):
    raise ValueError("refused at import: FAIL_COLD_START")

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"pid": os.getpid(), "pad": "x" * event.get("pad", 0)}
"""


def own_function(
    emulator: Emulator,
    tmp_path: Path,
    name: str,
    timeout: float = 30,
    reserved: int | None = None,
    environment: dict[str, str] | None = None,
) -> str:
    """A small function of our own in the emulator: it sleeps, fails or pads its answer as asked."""
    (tmp_path / "app.py").write_text(HANDLER)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(tmp_path / "app.py", "app.py")
    emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Handler="app.handler", Code={"ZipFile": archive.getvalue()},
        Role=f"arn:aws:iam::{emulator.stack.account_id}:role/{emulator.stack.name}-execution", Timeout=int(timeout),
    )  # fmt: skip
    emulator.lambdas.register(
        FunctionSpec(
            logical_id=name,
            name=name,
            code_dir=tmp_path,
            handler="app.handler",
            environment=environment or {},
            timeout_s=timeout,
            workers=2,
            reserved_concurrency=reserved,
        )  # fmt: skip
    )
    return name


def invoke(emulator: Emulator, name: str, event: dict) -> tuple[str | None, dict]:
    response = emulator.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_a_cold_start_that_raises_answers_each_invocation_with_its_error_and_leaves_no_worker(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-cold-start", environment={"FAIL_COLD_START": "1"})
    for _ in range(3):  # each invocation gets a new environment, whose cold start fails again
        error, payload = invoke(emulator, name, {})
        assert error and payload["errorType"] == "ValueError"
        assert payload["errorMessage"] == "refused at import: FAIL_COLD_START"
    assert emulator.lambdas.environments(name) == 0


def test_a_function_past_its_timeout_is_stopped_and_fails_as_lambda_reports_it(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-timeout", timeout=1)
    started = time.monotonic()
    error, payload = invoke(emulator, name, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert error and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert invoke(emulator, name, {})[0] is None  # a new environment answers the next invocation


def test_a_response_over_6_mb_fails_as_lambda_reports_it(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-response")
    error, payload = invoke(emulator, name, {"pad": 6_300_000})
    assert error and payload["errorType"] == "Function.ResponseSizeTooLarge"
    assert payload["errorMessage"] == "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    assert invoke(emulator, name, {"pad": 5_900_000})[0] is None


def test_invocations_beyond_reserved_concurrency_are_throttled(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-reserved", reserved=1)
    client = emulator.session.client(  # no retries of its own: botocore would retry the throttle away
        "lambda", endpoint_url=emulator.endpoint_url, config=Config(retries={"total_max_attempts": 1})
    )
    slow = threading.Thread(target=invoke, args=(emulator, name, {"sleep": 2}))
    slow.start()
    wait_for(lambda: emulator.lambdas.in_flight(name) == 1, 30, "the first invocation to run")
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName=name, Payload=b"{}")
    slow.join()
    assert invoke(emulator, name, {})[0] is None


def test_a_childs_input_or_output_over_256_kib_fails_with_data_limit_exceeded(emulator):
    large = {"pad": "x" * (260 * 1024)}
    child = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    grow = {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": large, "End": True}}}
    for name, items, processor in (("input", [{"n": 1}, large], child), ("output", [{"n": 1}], grow)):
        definition = _map(emulator, f"t/limits-{name}", processor, ToleratedFailurePercentage=100)
        described = run_definition(emulator, definition, {"items": items})
        failed = _results(emulator, described)["FAILED"]
        assert [r["Error"] for r in failed] == ["States.DataLimitExceeded"], name
        assert "exceeding the maximum number of bytes service limit" in failed[0]["Cause"]


def test_an_item_batcher_without_batch_input_gives_children_their_items_only(emulator):
    child = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    definition = _map(emulator, "t/limits-batch", child, ItemBatcher={"MaxItemsPerBatch": 2})
    described = run_definition(emulator, definition, {"items": [{"n": n} for n in range(3)]})
    inputs = [json.loads(r["Input"]) for r in _results(emulator, described)["SUCCEEDED"]]
    assert all(set(each) == {"Items"} for each in inputs)


def test_an_express_child_stops_at_its_limit(emulator, tmp_path, monkeypatch):
    monkeypatch.setattr(map_children.limits, "express_seconds", 1.0)  # AWS: 300 s
    child = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3, "End": True}}}
    started = time.monotonic()
    described = run_definition(emulator, _map(emulator, "t/limits-express", child, ToleratedFailurePercentage=100),
                               {"items": [{"n": 1}]})  # fmt: skip
    (timed_out,) = _results(emulator, described)["FAILED"]
    assert (timed_out["Status"], timed_out["Error"]) == ("TIMED_OUT", "States.Timeout")
    assert time.monotonic() - started < 3  # the map went on without waiting for the stopped child


def test_an_express_childs_retry_waits_count_against_its_five_minutes_though_none_is_slept(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-retried")
    child = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": name, "Payload": {"fail": True}},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 200, "MaxAttempts": 3, "BackoffRate": 2}],
    }}}  # fmt: skip
    described = run_definition(emulator, _map(emulator, "t/limits-waits", child, ToleratedFailurePercentage=100),
                               {"items": [{"n": 1}]})  # fmt: skip
    (timed_out,) = _results(emulator, described)["FAILED"]
    assert timed_out["Status"] == "TIMED_OUT"  # 200 s + 400 s of waits: past 300 s on AWS
    standard = _map(emulator, "t/limits-waits-standard", child, ToleratedFailurePercentage=100)
    standard["States"]["Map"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
    (failed,) = _results(emulator, run_definition(emulator, standard, {"items": [{"n": 1}]}))["FAILED"]
    assert (failed["Status"], failed["Error"]) == ("FAILED", "RuntimeError")  # STANDARD: retried to the end


@pytest.mark.slow
def test_the_shipped_configuration_keeps_the_largest_batch_inside_every_limit(emulator):
    """The largest children the manifest writer can cut (keys of 1 KiB) run through the real state
    machine: no child input or output passes a limit, and every object is accounted for."""
    items = [ManifestItem(bucket=emulator.landing_bucket, key=f"raw/{n:04d}-{'k' * 1000}", size=1) for n in range(300)]
    config = RunConfig(max_concurrency=4, max_items_per_batch=1000, max_batch_bytes=256 << 20,
                       tolerated_failure_percentage=100)  # fmt: skip
    started = start_run(emulator, items, config)
    assert (
        started.execution_input.batches == 2
    )  # cut by the 256 KiB of a child's input, not by the 1,000 objects allowed
    described = emulator.wait_for_execution(execution_arn_of(emulator, started))
    assert described["status"] == "SUCCEEDED"  # every object is missing: all failed, within a 100 % tolerance
    report = read_json(emulator, emulator.pipeline_bucket, report_key(started.run_id))
    assert report["reconciliation"]["ok"], report["reconciliation"]["problems"]
    assert (report["objects"]["failed"], report["objects"]["in_manifest"]) == (300, 300)
    assert {f["kind"] for f in report["failures"]} == {"object"}  # each object failed alone: no batch did


def _map(emulator: Emulator, prefix: str, processor: dict, **fields) -> dict:
    state = {
        "Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, **processor},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": emulator.pipeline_bucket, "Prefix": prefix}},
        "End": True, **fields,
    }  # fmt: skip
    return {"StartAt": "Map", "States": {"Map": state}}


def _results(emulator: Emulator, described: dict) -> dict[str, list[dict]]:
    assert described["status"] == "SUCCEEDED", described
    details = json.loads(described["output"])["ResultWriterDetails"]
    manifest = read_json(emulator, details["Bucket"], details["Key"])
    return {
        kind: [r for entry in entries for r in read_result_file(emulator, details["Bucket"], entry["Key"])]
        for kind, entries in manifest["ResultFiles"].items()
    }
