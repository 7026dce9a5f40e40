"""Each function as `sam build` left it, invoked as Lambda runs it, without a container:
`landfall invoke` on every sample in events/, as a user types it.

The Runtime Interface Emulator that ships in the SAM CLI package serves the invoke API on loopback
and runs awslambdaric under python3.13 in the built function's folder, with the built layer on the
path, only the runtime's own modules besides, the function's environment from the template, and an
emulator's moto server as AWS. The response body is checked (an error is a 200 with `errorType`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from landfall_cli.invoke import build
from tests.paths import EVENTS, REPO_ROOT

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def built() -> Path:
    """`make test` builds first; a test run alone builds here."""
    return build(REPO_ROOT)


def invoke(function: str, event: Path) -> tuple[int, Any, str]:
    """`landfall invoke`: its exit status, the response it printed (stdout), and the rest (stderr)."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "landfall_cli.main", "invoke", function, "-e", str(event)],
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr


def test_the_built_layer_is_what_the_functions_import(built):
    assert (built / "CommonLayer" / "python" / "landfall" / "process" / "processing.py").exists()
    assert list((built / "CommonLayer" / "python").glob("msgspec*")) and list(
        (built / "CommonLayer" / "python").glob("isal*")
    )


@pytest.mark.parametrize(
    ("sample", "failed", "objects", "starts_run"),
    [
        ("sqs-s3-notifications.json", 0, 6, True),
        ("sqs-malformed-message.json", 1, 1, True),
        ("sqs-test-event.json", 0, 0, False),
        ("s3-direct.json", None, 2, True),
        ("s3-versioned.json", None, 2, True),
        ("eventbridge-object-created.json", None, 1, True),
    ],
)
def test_the_manifest_writer_answers_each_sample(built, sample, failed, objects, starts_run):
    status, body, logs = invoke("ManifestWriterFunction", EVENTS / "manifest_writer" / sample)
    assert status == 0 and "errorType" not in body, logs
    if failed is not None:
        assert len(body["batchItemFailures"]) == failed
    assert body["objects"] == objects and (body["run_id"] is not None) == starts_run
    assert "START RequestId" in logs and "REPORT RequestId" in logs  # the function's own log, as Lambda's


def test_every_sample_event_has_its_test():
    samples = {path.relative_to(EVENTS).as_posix() for path in EVENTS.rglob("*.json")}
    tested = {
        f"manifest_writer/{name}"
        for name in (
            "sqs-s3-notifications.json",
            "sqs-malformed-message.json",
            "sqs-test-event.json",
            "s3-direct.json",
            "s3-versioned.json",
            "eventbridge-object-created.json",
        )
    } | {"processor/batch.json", "reducer/run.json", "catalog/create.json", "concurrency_check/create.json"}
    tested |= {"upkeep/plan.json", "upkeep/finish.json", "compactor/stale-item.json"}
    assert samples == tested


def test_the_processor_sample_processes_the_objects_it_names(built):
    status, summary, logs = invoke("ProcessorFunction", EVENTS / "processor" / "batch.json")
    assert status == 0 and "errorType" not in summary, logs
    assert [o["status"] for o in summary["objects"]] == ["processed", "processed"]
    assert sum(o["records"] for o in summary["objects"]) == 80  # the synthetic objects landed for it
    assert logs.count("landed s3://") == 2


def test_an_event_the_function_refuses_is_its_error_and_exit_1(built, tmp_path):
    event = tmp_path / "bad.json"
    event.write_text(json.dumps({"BatchInput": {}}))
    status, error, _ = invoke("ProcessorFunction", event)
    assert status == 1 and error["errorType"] == "ValidationError"


def test_the_reducer_sample_reduces_the_run_it_names(built):
    status, report, logs = invoke("ReducerFunction", EVENTS / "reducer" / "run.json")
    assert status == 0 and "errorType" not in report, logs
    assert report["status"] == "SUCCEEDED" and report["reconciliation"]["ok"]
    assert report["objects"]["processed"] == 2 and report["records"]["read"] == 80
    assert "the map run's result files" in logs


def test_the_upkeep_samples_plan_a_new_table_keep_its_house_and_give_a_stale_item_up(built):
    """The emulator's table is new: nothing to compact, a housekeeping pass that finds nothing, and an
    item naming files the table never held is given up (as a plan another compaction overtook)."""
    status, state, logs = invoke("UpkeepPlanFunction", EVENTS / "upkeep" / "plan.json")
    assert status == 0 and (state["item_count"], state["items"], state["planned"]["snapshot_id"]) == (0, None, None), (
        logs
    )
    status, report, logs = invoke("UpkeepFinishFunction", EVENTS / "upkeep" / "finish.json")
    assert status == 0 and report == {
        "version": 4,
        "run_id": "upkeep-sample",
        "table": "events",
        "status": "SUCCEEDED",
        "status_reason": "",
    }, logs
    status, result, logs = invoke("CompactorFunction", EVENTS / "compactor" / "stale-item.json")
    assert status == 0 and result["outcome"] == "given_up" and "2 of its files left the table" in result["reason"], logs


def test_the_catalog_function_answers_cloudformation_with_the_tables_it_made(built):
    """The sample Create request, with its response URL presigned on the emulator's S3 (as CloudFormation
    presigns one on its own bucket)."""
    status, body, logs = invoke("CatalogFunction", EVENTS / "catalog" / "create.json")
    assert status == 0 and body["status"] == "SUCCESS", logs
    response = json.loads(logs[logs.index("CloudFormation got:") + len("CloudFormation got:") :])
    assert response["Status"] == "SUCCESS" and response["RequestId"] == "d0e4b6f2-5b1c-4b8e-9f3a-2c7d8e9f0a1b"
    assert response["Data"] == {"Table": "events", "QuarantineTable": "quarantine", "UniqueView": "events_unique"}


def test_the_concurrency_check_refuses_the_samples_reservation_in_one_line(built):
    """The sample asks for 5,000 of the emulator's 1,000: CloudFormation hears FAILED, and why; exit status 1."""
    status, body, logs = invoke("ConcurrencyCheckFunction", EVENTS / "concurrency_check" / "create.json")
    assert status == 1 and body["status"] == "FAILED", logs  # a failed request is a failed invocation
    response = json.loads(logs[logs.index("CloudFormation got:") + len("CloudFormation got:") :])
    assert response["Status"] == "FAILED" and response["RequestId"] == "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert response["Reason"].startswith("ProcessorConcurrencyLimit=5000 does not fit")
    assert "its quota is 1000" in response["Reason"] and "ProcessorConcurrencyLimit=898" in response["Reason"]


@pytest.mark.parametrize("layer", ["CommonLayer", "CommonLayerArm64"])
def test_the_built_layer_stays_far_below_lambdas_limit(built, layer):
    """Lambda allows 250 MB unzipped for a function and its layers; the layer keeps 100 MB for the rest."""
    size = sum(path.stat().st_size for path in (built / layer).rglob("*") if path.is_file())
    assert size <= 150 * 1024 * 1024, f"the layer is {size / 2**20:.0f} MiB"


ELF_MACHINES = {"CommonLayer": 0x3E, "CommonLayerArm64": 0xB7}  # x86-64, AArch64 (the ELF header's e_machine)


def test_each_architectures_layer_holds_native_code_for_it_and_the_same_packages(built):
    """arm64 cannot run here: what is checked is that its layer has every package, each native library
    built for AArch64, as the x86_64 layer has them for x86-64."""
    shipped = {}
    for layer, machine in ELF_MACHINES.items():
        folder = built / layer / "python"
        libraries = [path for path in folder.rglob("*.so*") if path.read_bytes()[:4] == b"\x7fELF"]
        assert len(libraries) >= 5 and {int.from_bytes(path.read_bytes()[18:20], "little") for path in libraries} == {
            machine
        }, layer
        shipped[layer] = {path.name for path in folder.iterdir() if path.name != "__pycache__"}
    assert shipped["CommonLayer"] == shipped["CommonLayerArm64"]


def test_the_layer_ships_every_dependency_pinned_and_nothing_the_runtime_already_has(built):
    shipped = {path.name for path in (built / "CommonLayer" / "python").iterdir()}
    assert not shipped & {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py", "jmespath"}
    requirements = (REPO_ROOT / "layers" / "common" / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert pins and all("==" in pin for pin in pins)
    assert {"landfall", "cramjam", "msgspec", "isal", "pydantic_core", "arro3"} <= shipped
    assert not shipped & {"duckdb", "pyarrow", "polars"}  # the local engine and the tests' readers stay out
