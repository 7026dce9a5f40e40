"""`make bench`: the manifest writer's own work and the backfill's memory, without network.

S3 and Step Functions are stand-ins that accept the calls: what is measured is our parsing, decoding,
filtering, de-duplication and manifest serialisation, and the memory a backfill holds while listing.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

from landfall.core.observability import logger
from landfall.core.settings import parse_settings
from landfall.ingest.ingestion import ingest
from landfall.ingest.manifests import RunStarter
from landfall.ingest.messages import NotificationEvent, RunConfig
from landfall.ingest.settings import ManifestWriterSettings
from landfall_cli.backfill import Backfill, list_items

BUCKET = "landfall-landing-123456789012-us-east-1"
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:landfall-pipeline"


class _Missing(Exception):
    pass


class StandInS3:
    """Accepts uploads (reading them through) and serves generated listing pages."""

    def __init__(self, keys: int = 0) -> None:
        self.keys = keys
        self.uploaded = 0

    def put_object(self, **kwargs: Any) -> None:
        self.uploaded += len(kwargs["Body"])

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        return {"UploadId": "stand-in"}

    def upload_part(self, **kwargs: Any) -> dict[str, str]:
        self.uploaded += len(kwargs["Body"])
        return {"ETag": f'"{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> None:
        pass

    def get_bucket_versioning(self, **kwargs: Any) -> dict[str, str]:
        return {}  # unversioned: the listing is list_objects_v2's

    def get_paginator(self, name: str) -> StandInS3:
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        prefix = kwargs["Prefix"]
        for start in range(0, self.keys, 1000):
            yield {
                "Contents": [
                    {
                        "Key": f"{prefix}2026/11/22/13/landfall-1-2026-11-22-13-05-00-{n:012d}.gz",
                        "Size": 64 << 20,
                        "ETag": '"0123456789abcdef0123456789abcdef"',
                    }
                    for n in range(start, min(start + 1000, self.keys))
                ]
            }


class StandInStepFunctions:
    class exceptions:  # noqa: N801 - boto3's shape
        ExecutionDoesNotExist = _Missing
        ExecutionAlreadyExists = _Missing

    def __init__(self) -> None:
        self.started = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's shape
        raise _Missing

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started += 1
        return {}


def _notification(key: str, size: int) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T13:05:01.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:firehose"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/abcdefgh"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "landfall-raw",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {
                "key": key,
                "size": size,
                "eTag": "0123456789abcdef0123456789abcdef",
                "sequencer": "0A1B2C3D4E5F678901",
            },
        },
    }


def sqs_batch(notifications: int, seed: int = 3) -> dict[str, Any]:
    """One SQS batch of S3 notifications: URL-encoded keys, ~2 % redelivered, a test event, a folder marker."""
    rng = random.Random(seed)  # noqa: S311 - test data
    records = []
    for n in range(notifications):
        if n and rng.random() < 0.02:
            body = records[rng.randrange(len(records))]["body"]  # the same notification again
        elif n == 1:
            body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
        else:
            name = f"landfall-1-2026-11-22-13-05-00-{uuid.UUID(int=rng.getrandbits(128))}"
            if n % 100 == 0:  # some producers' keys need URL encoding
                name = f"caf%C3%A9+report+%28{n}%29"
            key = f"raw/2026/11/22/13/{name}.gz" if n != 2 else "raw/2026/11/22/13/"
            body = json.dumps({"Records": [_notification(key, 64 << 20 if n != 2 else 0)]})
        records.append(
            {
                "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                "receiptHandle": "AQEB",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:landfall-ingest",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def manifest_writer(event: dict[str, Any]) -> tuple[float, float]:
    """(seconds of the manifest writer's work, seconds of a bare json.loads of every message body)."""
    logger.setLevel("WARNING")
    settings = parse_settings(ManifestWriterSettings, {"STATE_MACHINE_ARN": ARN, "PIPELINE_BUCKET": "pipeline"})
    s3, sfn = StandInS3(), StandInStepFunctions()
    started = time.perf_counter()
    response = ingest(NotificationEvent.model_validate(event), s3_client=s3, sfn_client=sfn, settings=settings)
    ours = time.perf_counter() - started
    assert response.batchItemFailures == [] and sfn.started == 1
    started = time.perf_counter()
    for record in event["Records"]:
        json.loads(record["body"])
    return ours, time.perf_counter() - started


def backfill(keys: str) -> int:
    """Backfill `keys` listed objects into one run; returns the manifest bytes written."""
    logger.setLevel("WARNING")
    config = RunConfig(
        max_concurrency=100, max_items_per_batch=20, max_batch_bytes=256 << 20, tolerated_failure_percentage=5
    )
    s3, sfn = StandInS3(int(keys)), StandInStepFunctions()
    run = Backfill(RunStarter(s3, sfn, ARN, "pipeline", config), "raw/", "", objects_per_run=1_000_000)
    runs = run.run(list_items(s3, BUCKET, ["raw/"]))
    assert len(runs) == 1 and runs[0].plan.objects == int(keys) and sfn.started == 1
    return s3.uploaded
