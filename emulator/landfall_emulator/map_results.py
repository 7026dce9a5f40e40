"""Writing a Distributed Map's results as AWS does: manifest.json and SUCCEEDED_n, FAILED_n and
PENDING_n in the WriterConfig's OutputType (JSON, JSONL) and Transformation (NONE, COMPACT, FLATTEN),
each file at most 5 GB; also when the map fails. The ResultWriter's Parameters are evaluated against
the state's input, as AWS does (moto uses the children's outputs).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as writer_s3,
)

from landfall_emulator.map_children import RESULTS, ChildResult
from landfall_emulator.map_reading import EXTENSION, MapExtension

# The largest result file the ResultWriter writes before starting the next one (AWS: 5 GB).
MAX_RESULT_FILE_BYTES = 5 * 1024**3


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _result_record(child: ChildResult, map_run_arn: str, state_machine_arn: str) -> dict[str, Any]:
    if child.status == "PENDING":
        return {"Input": json.dumps(child.input), "InputDetails": {"Included": True}, "Status": "PENDING"}
    execution_arn = map_run_arn.replace(":mapRun:", ":execution:").rsplit(":", 1)[0] + f":{child.name}"
    redrivable = child.status != "SUCCEEDED"
    record: dict[str, Any] = {
        "ExecutionArn": execution_arn,
        "Input": json.dumps(child.input),
        "InputDetails": {"Included": True},
        "Name": child.name,
        "RedriveCount": 0,
        "RedriveStatus": "REDRIVABLE_BY_MAP_RUN" if redrivable else "NOT_REDRIVABLE",
        "RedriveStatusReason": (
            "Execution is redrivable by the map run"
            if redrivable
            else f"Execution is {child.status} and cannot be redriven"
        ),
        "StartDate": _iso(child.start),
        "StateMachineArn": state_machine_arn,
        "Status": child.status,
        "StopDate": _iso(child.stop),
    }
    if child.status == "SUCCEEDED":
        record["Output"] = json.dumps(child.output)
        record["OutputDetails"] = {"Included": True}
    else:
        record["Error"] = child.error or ""
        record["Cause"] = child.cause or ""
    return dict(sorted(record.items()))


def _transformed(child: ChildResult, record: dict[str, Any], transformation: str) -> list[Any]:
    if child.status != "SUCCEEDED" or transformation == "NONE":
        return [record]
    if transformation == "FLATTEN" and isinstance(child.output, list):
        return list(child.output)
    return [child.output]


def result_writer_eval_body(self, env) -> None:
    """Evaluate the ResultWriter's Parameters against the state's input, as AWS does (moto uses the
    children's outputs, so `Prefix.$` could not refer to the input)."""
    outputs = env.stack.pop()
    env.stack.append(env.states.get_input())
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    env.stack.pop()
    env.stack.append(outputs)
    env.stack.append(parameters)
    self.resource_eval.eval_resource(env=env)


def put_object(env, resource_runtime_part, state_credentials) -> None:
    """ResultWriter: manifest.json plus SUCCEEDED_n, FAILED_n and PENDING_n as AWS writes them."""
    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: the files are written from the full records instead
    s3 = writer_s3.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    record = env.map_run_record_pool_manager.get_all().pop()
    children: list[ChildResult] = getattr(record, RESULTS, [])
    ext: MapExtension = getattr(record, EXTENSION, None) or MapExtension()
    output_type = ext.writer_config.get("OutputType", "JSON")
    transformation = ext.writer_config.get("Transformation", "NONE")
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{record.map_run_arn.split(':')[-1]}/"
    state_machine_arn = record.map_run_arn.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0]

    groups: dict[str, list[Any]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in children:
        group = {"SUCCEEDED": "SUCCEEDED", "PENDING": "PENDING"}.get(child.status, "FAILED")
        full = _result_record(child, record.map_run_arn, state_machine_arn)
        groups[group].extend(_transformed(child, full, transformation))

    files: dict[str, list[dict[str, Any]]] = {}
    for group, entries in groups.items():
        files[group] = []
        for number, body in enumerate(_split(entries, output_type)):
            key = f"{base}{group}_{number}.json"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[group].append({"Key": key, "Size": len(body)})
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": record.map_run_arn,
        "ResultFiles": {group: files[group] for group in ("FAILED", "PENDING", "SUCCEEDED")},
    }
    key = f"{base}manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
    env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})


def _split(entries: list[Any], output_type: str) -> list[bytes]:
    """Encode entries into files of at most MAX_RESULT_FILE_BYTES; no file when there is nothing."""
    files: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for entry in entries:
        encoded = json.dumps(entry).encode()
        if current and size + len(encoded) + 2 > MAX_RESULT_FILE_BYTES:
            files.append(_join(current, output_type))
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 2
    if current:
        files.append(_join(current, output_type))
    return files


def _join(encoded: list[bytes], output_type: str) -> bytes:
    if output_type == "JSONL":
        return b"\n".join(encoded) + b"\n"
    return b"[" + b",".join(encoded) + b"]"
