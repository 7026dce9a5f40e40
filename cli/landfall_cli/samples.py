"""What a sample event names, made real on an emulator started for one `landfall invoke`.

A processor batch names objects; a reducer run names its manifest and the ResultWriter's files; a
CloudFormation request names a response URL and a database. On a fresh emulator none of them exists,
and the function would only report them missing. Here the objects are synthetic, the run's one batch is
processed by the emulator's own processor, and the response URL is presigned on the emulator's S3.
Nothing already there is overwritten.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from landfall.ingest.batching import manifest_line
from landfall.ingest.messages import ManifestItem
from landfall.jobs.samples import event_lines
from landfall_emulator import custom_resources

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from landfall_emulator.emulator import Emulator

SAMPLE_HOUR = datetime(2026, 11, 22, 13, tzinfo=UTC)
SAMPLE_RECORDS = 40  # lines per synthetic object, 2 % of them bad


@dataclass
class Prepared:
    event: Any  # as the function gets it
    made: list[str] = field(default_factory=list)  # one line per thing made for it
    response_key: str | None = None  # a CloudFormation request's: where its response lands


def prepare(emulator: Emulator, logical_id: str, event: Any) -> Prepared:
    if not isinstance(event, dict):
        return Prepared(event)
    if logical_id == "ProcessorFunction" and "Items" in event:
        return Prepared(event, _land_objects(emulator, [ManifestItem.model_validate(i) for i in event["Items"]]))
    if logical_id == "ReducerFunction" and "manifest" in event:
        return Prepared(event, _make_run(emulator, event))
    if logical_id == "CatalogFunction" and "ResponseURL" in event:
        properties = {"DatabaseName": emulator.stack.outputs()["DatabaseName"], "Bucket": emulator.pipeline_bucket}
        return _cloudformation_request(emulator, event, properties)
    if "ResponseURL" in event:  # another custom resource's request, e.g. the concurrency check's
        return _cloudformation_request(emulator, event, {})
    return Prepared(event)


def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        return False
    return True


def _land_objects(emulator: Emulator, items: list[ManifestItem]) -> list[str]:
    """Synthetic Firehose objects at the keys named, landed without notifying the pipeline (the one
    function invoked is all that runs)."""
    s3, made = emulator.client("s3"), []
    s3.put_bucket_notification_configuration(Bucket=emulator.landing_bucket, NotificationConfiguration={})
    for number, item in enumerate(items):
        if _exists(s3, item.bucket, item.key):
            continue
        rng = random.Random(number)  # noqa: S311 - synthetic data, not secrets
        lines = [line for line, _ in event_lines(rng, SAMPLE_RECORDS, SAMPLE_HOUR, 0.02)]
        s3.put_object(Bucket=item.bucket, Key=item.key, Body=gzip.compress(b"\n".join(lines) + b"\n"))
        made.append(f"landed s3://{item.bucket}/{item.key}: {len(lines)} synthetic lines")
    return made


def _make_run(emulator: Emulator, run: dict[str, Any]) -> list[str]:
    """The run's manifest, its objects, and the ResultWriter's files of its batch, processed."""
    s3, manifest = emulator.client("s3"), run["manifest"]
    if _exists(s3, manifest["bucket"], manifest["key"]):
        return []
    items = [
        ManifestItem(bucket=emulator.landing_bucket, key=f"raw/2026/11/22/13/sample-{n}.gz")
        for n in range(run["objects"])
    ]
    made = _land_objects(emulator, items)
    items = [item.model_copy(update=_head(s3, item)) for item in items]
    body = manifest_line(sum(item.size for item in items), [item.model_dump_json().encode() for item in items])
    s3.put_object(Bucket=manifest["bucket"], Key=manifest["key"], Body=body)
    batch = {
        "BatchInput": {"version": run["version"], "run_id": run["run_id"], "output_bucket": run["output_bucket"]},
        "Items": [item.model_dump(mode="json") for item in items],
    }
    answer = emulator.client("lambda").invoke(
        FunctionName=emulator.function_name("ProcessorFunction"), Payload=json.dumps(batch).encode()
    )
    write_result_files(s3, run, batch, json.loads(answer["Payload"].read()))
    return [*made, f"wrote s3://{manifest['bucket']}/{manifest['key']} and the map run's result files"]


def _head(s3: S3Client, item: ManifestItem) -> dict[str, Any]:
    head = s3.head_object(Bucket=item.bucket, Key=item.key)
    return {"size": head["ContentLength"], "etag": head["ETag"].strip('"')}


def write_result_files(s3: S3Client, run: dict[str, Any], batch: dict[str, Any], summary: Any) -> None:
    """The ResultWriter's files for one succeeded child, in AWS's format (Transformation NONE, JSONL)."""
    details = run["map_result"]["ResultWriterDetails"]
    prefix = details["Key"].rsplit("/", 1)[0]
    record = {
        "ExecutionArn": run["map_result"]["MapRunArn"].replace(":mapRun:", ":execution:").rsplit(":", 1)[0] + ":1",
        "Input": json.dumps(batch),
        "InputDetails": {"Included": True},
        "Name": "1",
        "Output": json.dumps(summary),
        "OutputDetails": {"Included": True},
        "StartDate": "2026-11-22T13:05:00.123Z",
        "StopDate": "2026-11-22T13:05:02.456Z",
        "Status": "SUCCEEDED",
    }
    s3.put_object(Bucket=details["Bucket"], Key=f"{prefix}/SUCCEEDED_0.json", Body=json.dumps(record).encode() + b"\n")
    files = {"FAILED": [], "PENDING": [], "SUCCEEDED": [{"Key": f"{prefix}/SUCCEEDED_0.json", "Size": 1}]}
    manifest = {
        "DestinationBucket": details["Bucket"],
        "MapRunArn": run["map_result"]["MapRunArn"],
        "ResultFiles": files,
    }
    s3.put_object(Bucket=details["Bucket"], Key=details["Key"], Body=json.dumps(manifest).encode())


def _cloudformation_request(emulator: Emulator, event: dict[str, Any], properties: dict[str, Any]) -> Prepared:
    """The request as CloudFormation would send it to this stack: the response URL presigned on the
    emulator's S3 (no traffic leaves the machine), and `properties` of this stack (the catalog's database
    and bucket) over the sample's."""
    s3, key = emulator.client("s3"), f"invoke/{event.get('RequestId', 'request')}"
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": custom_resources.RESPONSES_BUCKET, "Key": key}, ExpiresIn=3600
    )
    request = {**event, "ResponseURL": url, "ResourceProperties": {**event.get("ResourceProperties", {}), **properties}}
    return Prepared(request, [f"its response goes to s3://{custom_resources.RESPONSES_BUCKET}/{key}"], key)


def cloudformation_response(s3: S3Client, key: str) -> dict[str, Any] | None:
    """What the function sent CloudFormation, if anything."""
    try:
        return json.loads(s3.get_object(Bucket=custom_resources.RESPONSES_BUCKET, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
