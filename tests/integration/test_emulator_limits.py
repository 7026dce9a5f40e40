"""The emulator is as strict as AWS where the pipeline could break: what fails on AWS fails here first.

Each limit is shown failing the way AWS documents (or recorded, in LocalStack's snapshots of real
AWS), and the shipped configuration is shown staying inside them.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.config import Config

from landfall.core.layout import report_key
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall_emulator import lambda_account, map_children
from landfall_emulator.emulator import Emulator, wait_for
from landfall_emulator.lambda_runtime import FunctionSpec
from tests.integration.conftest import execution_arn_of, read_json, read_result_file, run_definition, start_run
from tests.paths import REPO_ROOT, TEMPLATE_PATH

pytestmark = pytest.mark.emulator

HANDLER = """
import os, threading, time

if os.environ.get("FAIL_COLD_START"):
    raise ValueError("refused at import: FAIL_COLD_START")
time.sleep(float(os.environ.get("SLOW_COLD_START", "0")))

def handler(event, context):
    if os.environ.get("EVENTS_LOG"):
        with open(os.environ["EVENTS_LOG"], "a") as log:
            log.write(repr(event) + "\\n")
    if event.get("leave_thread"):  # a thread the handler does not wait for, as a background flush would be
        threading.Thread(target=time.sleep, args=(600,)).start()
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
        FunctionName=name,
        Runtime="python3.13",
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
        Role=f"arn:aws:iam::{emulator.stack.account_id}:role/{emulator.stack.name}-execution",
        Timeout=int(timeout),
    )
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
        )
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


def test_a_changed_configuration_ends_the_warm_environments_at_once_without_invoking_them(emulator, tmp_path):
    """UpdateFunctionConfiguration: the next invocation is a cold start; the warm environment ends by itself
    (exit status 0, not killed), though its handler left a thread running, and its handler never sees the stop."""
    events = tmp_path / "events.log"
    name = own_function(emulator, tmp_path, "limits-reconfigure", environment={"EVENTS_LOG": str(events)})
    warm_pid = invoke(emulator, name, {"leave_thread": True})[1]["pid"]
    (warm,) = emulator.lambdas._running[name].environments
    emulator.lambdas.reconfigure(name, {"CHANGED": "1"})
    assert warm.process.exitcode == 0
    assert invoke(emulator, name, {})[1]["pid"] != warm_pid
    assert events.read_text().splitlines() == ["{'leave_thread': True}", "{}"]


def test_an_environment_started_ahead_serves_the_next_invocation(emulator, tmp_path):
    """What the emulator's start does for the functions it is about to invoke: one environment, whose
    cold start the invocation then does not repeat."""
    name = own_function(emulator, tmp_path, "limits-prewarm")
    emulator.lambdas.prewarm(name)
    emulator.lambdas.prewarm(name)  # it has an idle one: no second
    assert emulator.lambdas.environments(name) == 1
    assert invoke(emulator, name, {})[0] is None
    assert emulator.lambdas.environments(name) == 1


def test_a_function_past_its_timeout_is_stopped_and_fails_as_lambda_reports_it(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-timeout", timeout=1)
    started = time.monotonic()
    error, payload = invoke(emulator, name, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert error and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert invoke(emulator, name, {})[0] is None  # a new environment answers the next invocation


def test_the_timeout_counts_the_invocation_not_the_environments_start(emulator, tmp_path):
    """Lambda's init phase is apart from the function's timeout: a cold start of 2 s does not time out an
    invocation of a function with 1 s (nor does a slow start of a worker on a busy machine)."""
    name = own_function(emulator, tmp_path, "limits-slow-start", timeout=1, environment={"SLOW_COLD_START": "2"})
    error, payload = invoke(emulator, name, {})
    assert error is None and payload["pid"], payload


def test_a_ctrl_c_while_an_environment_starts_does_not_stop_it(emulator, tmp_path):
    """A terminal's Ctrl-C reaches the whole process group, workers still importing included: it must not
    end them with a KeyboardInterrupt (and its traceback on the terminal); the demo stops them itself."""
    name = own_function(emulator, tmp_path, "limits-ctrl-c")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(invoke, emulator, name, {})
        named = f"lambda-{name}"
        worker = wait_for(
            lambda: next((p for p in multiprocessing.active_children() if p.name == named), None),
            60,
            "the environment's process",
            interval=0.001,
        )
        os.kill(worker.pid, signal.SIGINT)  # while the interpreter starts and imports
        error, payload = answer.result(timeout=120)
    assert error is None and payload["pid"] == worker.pid, payload


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
    described = run_definition(
        emulator, _map(emulator, "t/limits-express", child, ToleratedFailurePercentage=100), {"items": [{"n": 1}]}
    )
    (timed_out,) = _results(emulator, described)["FAILED"]
    assert (timed_out["Status"], timed_out["Error"]) == ("TIMED_OUT", "States.Timeout")
    assert time.monotonic() - started < 3  # the map went on without waiting for the stopped child


def test_an_express_childs_retry_waits_count_against_its_five_minutes_though_none_is_slept(emulator, tmp_path):
    name = own_function(emulator, tmp_path, "limits-retried")
    child = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "End": True,
                "Parameters": {"FunctionName": name, "Payload": {"fail": True}},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 200, "MaxAttempts": 3, "BackoffRate": 2}],
            }
        },
    }
    described = run_definition(
        emulator, _map(emulator, "t/limits-waits", child, ToleratedFailurePercentage=100), {"items": [{"n": 1}]}
    )
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
    config = RunConfig(
        max_concurrency=4, max_items_per_batch=1000, max_batch_bytes=256 << 20, tolerated_failure_percentage=100
    )
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
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, **processor},
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": emulator.pipeline_bucket, "Prefix": prefix},
        },
        "End": True,
        **fields,
    }
    return {"StartAt": "Map", "States": {"Map": state}}


def _results(emulator: Emulator, described: dict) -> dict[str, list[dict]]:
    assert described["status"] == "SUCCEEDED", described
    details = json.loads(described["output"])["ResultWriterDetails"]
    manifest = read_json(emulator, details["Bucket"], details["Key"])
    return {
        kind: [r for entry in entries for r in read_result_file(emulator, details["Bucket"], entry["Key"])]
        for kind, entries in manifest["ResultFiles"].items()
    }


def _pipeline_throttle_retry() -> dict:
    """The pipeline's own retrier for throttles, as the deployed state machine has it."""
    asl = json.loads((REPO_ROOT / "statemachine" / "pipeline.asl.json").read_text())
    (retrier,) = [r for r in asl["States"]["Reduce"]["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
    return retrier


def _call(name: str, payload: dict) -> dict:
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "OutputPath": "$.Payload",
                "End": True,
                "Parameters": {"FunctionName": name, "Payload": payload},
                "Retry": [_pipeline_throttle_retry()],
            }
        },
    }


def test_throttled_children_wait_for_a_free_slot_and_all_succeed_though_no_backoff_is_slept(emulator, tmp_path):
    """Twelve children at once on a function that runs one at a time. The emulator skips the retries'
    waits, yet a throttled child's skipped wait lasts until the function has a slot for it: the throttles
    AWS's backoff rides out are ridden out here too, however slow the machine."""
    name = own_function(emulator, tmp_path, "limits-one-slot", reserved=1)
    definition = _map(emulator, "t/limits-one-slot", _call(name, {"sleep": 0.2}), MaxConcurrency=12)
    definition["States"]["Map"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
    described = run_definition(emulator, definition, {"items": [{"n": n} for n in range(12)]})
    results = _results(emulator, described)
    assert (len(results["SUCCEEDED"]), results["FAILED"]) == (12, [])
    assert emulator.lambdas.throttled[name] >= 1  # the slot was taken: children were throttled and waited
    assert map_children.retry_clock.real_sleeps is False


def test_overlapping_executions_throttled_on_one_slot_all_succeed(emulator, tmp_path):
    """The reducer's case: a top-level task of several runs at once on a function with a small reservation."""
    name = own_function(emulator, tmp_path, "limits-one-slot-runs", reserved=1)
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="t-one-slot-runs",
        definition=json.dumps(_call(name, {"sleep": 0.2})),
        roleArn=f"arn:aws:iam::{emulator.stack.account_id}:role/{emulator.stack.name}-execution",
    )["stateMachineArn"]
    runs = [sfn.start_execution(stateMachineArn=arn, name=f"run-{n}")["executionArn"] for n in range(8)]
    assert [emulator.wait_for_execution(run)["status"] for run in runs] == ["SUCCEEDED"] * 8
    assert emulator.lambdas.throttled[name] >= 1


REFUSAL = (
    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
    "below its minimum value of [{}]."
)


def test_lambda_refuses_a_reservation_below_the_accounts_unreserved_floor_as_aws_words_it(
    emulator, tmp_path, monkeypatch
):
    lambda_client = emulator.client("lambda")
    name = own_function(emulator, tmp_path, "limits-quota")
    monkeypatch.setattr(lambda_account.account, "concurrent_executions", 10)  # a new account's quota
    limits = lambda_client.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (10, 10)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as refused:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert refused.value.response["Error"]["Message"] == REFUSAL.format(10)  # nothing can be reserved below 100
    monkeypatch.setattr(lambda_account.account, "concurrent_executions", 1000)  # AWS's default quota
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as refused:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert refused.value.response["Error"]["Message"] == REFUSAL.format(100)
    try:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=900)
        assert lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    finally:
        lambda_client.delete_function_concurrency(FunctionName=name)


START_IN_A_NEW_ACCOUNT = """
import sys
from pathlib import Path
from landfall_emulator import emulator as module
from landfall_emulator.custom_resources import CustomResourceFailed
from landfall_emulator.emulator import Emulator

created = []
original = module.Emulator._create_queues


def recording(self):
    created.append("queues")
    original(self)


module.Emulator._create_queues = recording
if __name__ == "__main__":
    fast, template = {"IngestBatchingWindowSeconds": "1"}, Path(sys.argv[1])
    with Emulator(template=template, account_concurrency=10, parameter_overrides=fast) as emulator:  # the defaults
        limits = emulator.client("lambda").get_account_settings()["AccountLimit"]
        print("started:", limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"], created)
    created.clear()
    try:
        overrides = {**fast, "ProcessorConcurrencyLimit": "200"}
        Emulator(template=template, account_concurrency=10, parameter_overrides=overrides).start()
        sys.exit("started with a reservation a new account cannot hold")
    except CustomResourceFailed as error:
        print("created:", created)
        print(error)
"""


def test_the_defaults_start_in_a_new_account_and_a_reservation_it_cannot_hold_fails_before_anything_is_created(
    tmp_path,
):
    """A process of its own: an emulator per process, and this one's account has a quota of 10."""
    script = tmp_path / "start_in_a_new_account.py"
    script.write_text(START_IN_A_NEW_ACCOUNT)
    done = subprocess.run(  # noqa: S603 - this interpreter, a script the test wrote
        [sys.executable, str(script), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=300, check=True
    )
    ours = [line for line in done.stdout.splitlines() if line.startswith(("started:", "created:", "ConcurrencyCheck:"))]
    started, created, refusal = ours  # (the functions' own logs are on stdout too)
    assert started == "started: 10 10 ['queues']"  # the defaults reserve nothing
    assert created == "created: []"  # the check failed first: no queue, bucket or function of the pipeline
    assert refusal.startswith("ConcurrencyCheck: ProcessorConcurrencyLimit=200 does not fit this account's Lambda")
    assert "its quota is 10 concurrent executions" in refusal
    assert "The most that fits is ProcessorConcurrencyLimit=0 (no reservation)" in refusal
