"""Helpers for the integration tests (the emulator fixture is in tests/conftest.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from landfall.core.layout import results_prefix
from landfall.ingest.manifests import RunStarter, StartedRun, execution_arn
from landfall.ingest.messages import ManifestItem, RunConfig, Source
from landfall_emulator.emulator import Emulator
from landfall_emulator.map_children import retry_clock


@pytest.fixture(autouse=True)
def _fresh_retry_clock() -> None:
    retry_clock.requested.clear()


def run_definition(emulator: Emulator, definition: dict[str, Any], execution_input: Any, timeout: float = 300) -> dict:
    """Create a state machine from `definition`, run it to the end, return DescribeExecution."""
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"t-{uuid.uuid4().hex[:12]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{emulator.stack.account_id}:role/{emulator.stack.name}-execution",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(execution_input))
    return emulator.wait_for_execution(execution["executionArn"], timeout=timeout)


def start_run(
    emulator: Emulator, items: list[ManifestItem], config: RunConfig, source: Source = "backfill"
) -> StartedRun:
    """Start a run of `items` as the manifest writer would, on the emulator's pipeline."""
    starter = RunStarter(
        emulator.client("s3"),
        emulator.client("stepfunctions"),
        emulator.state_machine_arn,
        emulator.pipeline_bucket,
        config,
    )
    started = starter.start_items(items, source)
    assert started is not None
    return started


def execution_arn_of(emulator: Emulator, started: StartedRun) -> str:
    return execution_arn(emulator.state_machine_arn, started.run_id)


def read_json(emulator: Emulator, bucket: str, key: str) -> Any:
    return json.loads(emulator.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def read_result_file(emulator: Emulator, bucket: str, key: str) -> list[dict[str, Any]]:
    body = emulator.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    if body.lstrip().startswith(b"["):
        return json.loads(body)
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def manifest_keys(body: bytes) -> list[str]:
    """The keys of a manifest's (or a redrive manifest's) objects, batch after batch."""
    return [o["key"] for line in body.splitlines() if line.strip() for o in json.loads(line)["objects"]]


def batch_outputs(emulator: Emulator, run_id: str) -> list[dict[str, Any]]:
    """Every batch summary the run's processors returned (its files inline), from its ResultWriter files."""
    bucket = emulator.pipeline_bucket
    s3 = emulator.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=results_prefix(run_id) + "/")["Contents"]
    manifest = read_json(emulator, bucket, next(o["Key"] for o in listed if o["Key"].endswith("manifest.json")))
    return [
        json.loads(record["Output"])
        for entry in manifest["ResultFiles"]["SUCCEEDED"]
        for record in read_result_file(emulator, bucket, entry["Key"])
    ]


def object_summaries(emulator: Emulator, run_id: str) -> list[dict[str, Any]]:
    """Every object summary the run's processors returned, from its ResultWriter files."""
    summaries: list[dict[str, Any]] = []
    for output in batch_outputs(emulator, run_id):
        if output.get("objects_key"):
            summaries += read_result_file(emulator, emulator.pipeline_bucket, output["objects_key"])
        else:
            summaries += output["objects"]
    return summaries


def curated_files(emulator: Emulator, run_id: str) -> list[dict[str, Any]]:
    """Every curated file the run's batches wrote (CuratedFile's fields)."""
    return [file for output in batch_outputs(emulator, run_id) for file in output.get("files", [])]
