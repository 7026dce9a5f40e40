"""Each gap the local engine closes, checked against the format AWS documents for Distributed Map."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest

from landfall_emulator import map_children, moto_compat
from tests.integration.conftest import read_json, read_result_file, run_definition

pytestmark = pytest.mark.emulator

SUCCEEDED_FIELDS = {
    "ExecutionArn",
    "Input",
    "InputDetails",
    "Name",
    "Output",
    "OutputDetails",
    "RedriveCount",
    "RedriveStatus",
    "RedriveStatusReason",
    "StartDate",
    "StateMachineArn",
    "Status",
    "StopDate",
}
FAILED_FIELDS = SUCCEEDED_FIELDS - {"Output", "OutputDetails"} | {"Error", "Cause"}

# A child that fails when its (first) item says so, and otherwise returns its input.
CHILD = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
            "Default": "Echo",
        },
        "Boom": {"Type": "Fail", "Error": "Item.Failed", "Cause": "the item asked to fail"},
        "Echo": {"Type": "Pass", "End": True},
    },
}
BATCH_CHILD = json.loads(json.dumps(CHILD).replace('"$.fail"', '"$.Items[0].fail"'))


def distributed_map(emulator, prefix: str, **fields: Any) -> dict[str, Any]:
    """A definition: Map over `$.items` (or an ItemReader) writing results under `prefix`, caught."""
    state = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, **CHILD},
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": emulator.pipeline_bucket, "Prefix": prefix},
        },
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        "End": True,
    }
    if "ItemReader" not in fields:
        state["ItemsPath"] = "$.items"
    for name, value in fields.items():
        if name == "ItemProcessor":
            state["ItemProcessor"] = {"ProcessorConfig": state["ItemProcessor"]["ProcessorConfig"], **value}
        elif name == "WriterConfig":
            state["ResultWriter"]["WriterConfig"] = value
        else:
            state[name] = value
    return {"StartAt": "Map", "States": {"Map": state, "Caught": {"Type": "Pass", "End": True}}}


def results(emulator, output: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    details = output["ResultWriterDetails"]
    manifest = read_json(emulator, details["Bucket"], details["Key"])
    files = {
        kind: [r for entry in entries for r in read_result_file(emulator, manifest["DestinationBucket"], entry["Key"])]
        for kind, entries in manifest["ResultFiles"].items()
    }
    return manifest, files


@pytest.mark.parametrize(
    "patch", moto_compat.PATCHES, ids=lambda p: f"{getattr(p.owner, '__name__', p.owner)}.{p.name}"
)
def test_a_moved_patch_point_fails_loudly(monkeypatch, patch):
    moto_compat.verify()
    if patch.adds:  # a name moto lacks moves when moto comes to define it
        monkeypatch.setattr(patch.owner, patch.name, lambda *args: None, raising=False)  # before install() too
    else:
        monkeypatch.delattr(patch.owner, patch.name)
    with pytest.raises(moto_compat.PatchPointMoved, match=patch.name):
        moto_compat.verify()


def test_another_moto_version_fails_loudly(monkeypatch):
    monkeypatch.setattr(moto_compat.moto, "__version__", "5.2.6")
    with pytest.raises(moto_compat.PatchPointMoved, match="written for moto 5.2.5"):
        moto_compat.verify()


def test_every_patch_is_listed_in_one_place_and_in_place_once_the_emulator_runs(emulator):
    def service(owner) -> str:
        return (owner.__name__ if isinstance(owner, ModuleType) else owner.__module__).split(".")[1]

    assert {service(p.owner) for p in moto_compat.PATCHES} == {"stepfunctions", "awslambda", "s3", "glue", "backends"}
    for patch in moto_compat.PATCHES:
        if patch.replacement is not None:
            assert getattr(patch.owner, patch.name) is getattr(patch.replacement, "__func__", patch.replacement)


def test_result_writer_files_follow_the_documented_format(emulator):
    items = [{"n": 1}, {"n": 2, "fail": True}, {"n": 3}]
    described = run_definition(
        emulator, distributed_map(emulator, "t/format", ToleratedFailureCount=1), {"items": items}
    )
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert set(output) == {"MapRunArn", "ResultWriterDetails"}
    assert ":mapRun:" in output["MapRunArn"]
    run_id = output["MapRunArn"].rsplit(":", 1)[-1]
    assert output["ResultWriterDetails"]["Key"] == f"t/format/{run_id}/manifest.json"

    manifest, files = results(emulator, output)
    assert set(manifest) == {"DestinationBucket", "MapRunArn", "ResultFiles"}
    assert set(manifest["ResultFiles"]) == {"FAILED", "PENDING", "SUCCEEDED"}
    for entries in manifest["ResultFiles"].values():
        for entry in entries:
            assert set(entry) == {"Key", "Size"}
            assert entry["Key"].startswith(f"t/format/{run_id}/")
    assert [set(r) for r in files["SUCCEEDED"]] == [SUCCEEDED_FIELDS, SUCCEEDED_FIELDS]
    (failed,) = files["FAILED"]
    assert set(failed) == FAILED_FIELDS
    assert (failed["Status"], failed["Error"], failed["Cause"]) == ("FAILED", "Item.Failed", "the item asked to fail")
    assert isinstance(failed["Input"], str) and json.loads(failed["Input"]) == {"n": 2, "fail": True}
    assert sorted(json.loads(r["Output"])["n"] for r in files["SUCCEEDED"]) == [1, 3]
    assert all(r["StartDate"].endswith("Z") and r["ExecutionArn"].count(":execution:") == 1 for r in files["SUCCEEDED"])


def test_item_batcher_applies_both_limits_and_the_batch_input(emulator):
    items = [{"n": n, "pad": "x" * 40} for n in range(10)]
    batcher = {"MaxItemsPerBatch": 4, "MaxInputBytesPerBatch": 250, "BatchInput": {"run.$": "$.run", "fixed": 1}}
    definition = distributed_map(emulator, "t/batch", ItemBatcher=batcher, ItemProcessor=BATCH_CHILD)
    described = run_definition(emulator, definition, {"items": items, "run": "r-1"})
    _, files = results(emulator, json.loads(described["output"]))
    inputs = sorted((json.loads(r["Input"]) for r in files["SUCCEEDED"]), key=lambda b: b["Items"][0]["n"])
    assert all(batch["BatchInput"] == {"run": "r-1", "fixed": 1} for batch in inputs)
    assert [n["n"] for batch in inputs for n in batch["Items"]] == list(range(10))
    assert all(len(json.dumps(batch)) <= 250 for batch in inputs)
    assert max(len(batch["Items"]) for batch in inputs) <= 4
    assert len(inputs) == 4  # 250 bytes hold three of these 59-byte items, not four


def test_item_batcher_limits_from_paths(emulator):
    batcher = {"MaxItemsPerBatchPath": "$.size", "BatchInput": {}}
    definition = distributed_map(emulator, "t/batchpath", ItemBatcher=batcher, ItemProcessor=BATCH_CHILD)
    described = run_definition(emulator, definition, {"items": [{"n": n} for n in range(7)], "size": 3})
    _, files = results(emulator, json.loads(described["output"]))
    assert sorted(len(json.loads(r["Input"])["Items"]) for r in files["SUCCEEDED"]) == [1, 3, 3]


@pytest.mark.parametrize(("output_type", "transformation"), [("JSON", "NONE"), ("JSONL", "NONE"), ("JSONL", "COMPACT")])
def test_writer_config(emulator, output_type, transformation):
    config = {"OutputType": output_type, "Transformation": transformation}
    definition = distributed_map(emulator, f"t/writer-{output_type}-{transformation}", WriterConfig=config)
    described = run_definition(emulator, definition, {"items": [{"n": 1}, {"n": 2}]})
    manifest, _ = results(emulator, json.loads(described["output"]))
    (entry,) = manifest["ResultFiles"]["SUCCEEDED"]
    body = emulator.client("s3").get_object(Bucket=emulator.pipeline_bucket, Key=entry["Key"])["Body"].read()
    assert body.lstrip().startswith(b"[") == (output_type == "JSON")
    records = read_result_file(emulator, emulator.pipeline_bucket, entry["Key"])
    if transformation == "COMPACT":
        assert sorted(r["n"] for r in records) == [1, 2]
    else:
        assert all(r["Status"] == "SUCCEEDED" for r in records)


def test_tolerance_exceeded_is_catchable_and_results_are_still_written(emulator):
    items = [{"n": n, "fail": n < 3} for n in range(10)]
    definition = distributed_map(emulator, "t/tolerance", ToleratedFailurePercentage=20, MaxConcurrency=1)
    described = run_definition(emulator, definition, {"items": items})
    assert described["status"] == "SUCCEEDED"  # caught
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "States.ExceedToleratedFailureThreshold"
    prefix = "t/tolerance/"
    keys = [
        o["Key"]
        for o in emulator.client("s3").list_objects_v2(Bucket=emulator.pipeline_bucket, Prefix=prefix)["Contents"]
    ]
    manifest_key = next(k for k in keys if k.endswith("manifest.json"))
    manifest = read_json(emulator, emulator.pipeline_bucket, manifest_key)
    failed = [
        r
        for e in manifest["ResultFiles"]["FAILED"]
        for r in read_result_file(emulator, emulator.pipeline_bucket, e["Key"])
    ]
    pending = [
        r
        for e in manifest["ResultFiles"]["PENDING"]
        for r in read_result_file(emulator, emulator.pipeline_bucket, e["Key"])
    ]
    assert len(failed) == 3  # the third failure (30 %) crossed the 20 % threshold
    assert len(pending) == 7 and all(r["Status"] == "PENDING" for r in pending)


@pytest.mark.parametrize(
    ("fields", "failures", "tripped"),
    [
        ({}, 1, True),  # zero tolerance by default
        ({"ToleratedFailureCount": 2}, 2, False),
        ({"ToleratedFailureCount": 2}, 3, True),
        ({"ToleratedFailurePercentage": 30}, 3, False),
        ({"ToleratedFailurePercentagePath": "$.pct"}, 4, True),
        ({"ToleratedFailureCountPath": "$.count"}, 4, False),
    ],
)
def test_tolerated_failure_thresholds(emulator, fields, failures, tripped):
    items = [{"n": n, "fail": n < failures} for n in range(10)]
    definition = distributed_map(emulator, "t/thresholds", **fields)
    described = run_definition(emulator, definition, {"items": items, "pct": 30, "count": 4})
    assert ("error" in json.loads(described["output"])) == tripped


def test_jsonl_item_reader(emulator):
    s3 = emulator.client("s3")
    s3.put_object(Bucket=emulator.pipeline_bucket, Key="t/items.jsonl", Body=b'{"n": 1}\n\n{"n": 2}\n{"n": 3}')
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket": emulator.pipeline_bucket, "Key": "t/items.jsonl"},
    }
    described = run_definition(emulator, distributed_map(emulator, "t/jsonl", ItemReader=reader), {})
    _, files = results(emulator, json.loads(described["output"]))
    assert sorted(json.loads(r["Output"])["n"] for r in files["SUCCEEDED"]) == [1, 2, 3]


def test_list_objects_v2_reads_every_page_in_aws_item_shape(emulator):
    s3 = emulator.client("s3")
    with ThreadPoolExecutor(8) as pool:  # more than one page of 1,000 keys
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=emulator.pipeline_bucket, Key=f"t/listing/{n:05d}", Body=b"x" * (n % 7)),
                range(1105),
            )
        )
    reader = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": emulator.pipeline_bucket, "Prefix": "t/listing/"},
    }
    batcher = {"MaxItemsPerBatch": 500}
    definition = distributed_map(emulator, "t/list", ItemReader=reader, ItemBatcher=batcher, ItemProcessor=BATCH_CHILD)
    described = run_definition(emulator, definition, {})
    _, files = results(emulator, json.loads(described["output"]))
    items = [item for r in files["SUCCEEDED"] for item in json.loads(r["Input"])["Items"]]
    assert len(items) == 1105
    first = min(items, key=lambda i: i["Key"])
    assert set(first) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert first["Etag"].startswith('"') and isinstance(first["LastModified"], int)


@pytest.mark.slow
def test_five_thousand_items_on_one_worker_complete(emulator):
    started = time.monotonic()
    definition = distributed_map(emulator, "t/many", MaxConcurrency=1)
    described = run_definition(emulator, definition, {"items": [{"n": n} for n in range(5000)]}, timeout=600)
    assert described["status"] == "SUCCEEDED", described
    manifest, files = results(emulator, json.loads(described["output"]))
    assert len(files["SUCCEEDED"]) == 5000
    print(f"5,000 children on one worker: {time.monotonic() - started:.1f}s")


def test_retries_back_off_without_sleeping(emulator):
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": emulator.function_name("ProcessorFunction"),
                    "Payload": {
                        "BatchInput": {"version": 1, "run_id": "retry-test", "output_bucket": emulator.pipeline_bucket},
                        "Items": [],
                    },
                },
                "Retry": [
                    {
                        "ErrorEquals": ["Lambda.TooManyRequestsException"],
                        "IntervalSeconds": 30,
                        "MaxAttempts": 3,
                        "BackoffRate": 2,
                    }
                ],
                "End": True,
            }
        },
    }
    emulator.lambdas.throttle(emulator.function_name("ProcessorFunction"), times=2)
    started = time.monotonic()
    described = run_definition(emulator, definition, {})
    assert described["status"] == "SUCCEEDED", described
    assert map_children.retry_clock.requested == [30, 60]
    assert time.monotonic() - started < 30


def test_the_server_lists_moto_once_and_finds_the_same_backends(emulator):
    # installed by the emulator: the listing is the one moto computes on every request, made once
    assert moto_compat.backends.list_of_moto_modules is moto_compat._moto_modules
    assert moto_compat._moto_modules() == tuple(moto_compat._original_list_of_moto_modules())
    assert {"s3", "stepfunctions", "awslambda", "sqs"} <= set(moto_compat._moto_modules())
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="speedups-check")
    assert "speedups-check" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
