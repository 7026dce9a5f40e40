"""The ingest queue as Lambda's event source mapping drives it: retries, partial failures, the DLQ."""

from __future__ import annotations

import json

import pytest

from landfall.jobs.samples import make_dataset
from landfall_emulator.emulator import wait_for

pytestmark = pytest.mark.emulator


def test_a_malformed_message_reaches_the_dlq_and_the_rest_of_its_batch_runs(emulator):
    s3, sqs = emulator.client("s3"), emulator.client("sqs")
    (obj,) = make_dataset(objects=1, records=20, bad_ratio=0.0, seed=9, stream="dlq").objects
    before = {e["name"] for e in emulator.executions()}
    queue = emulator.queue_url("IngestQueue")
    dead = emulator.queue_url("IngestDeadLetterQueue")
    notification = {
        "Records": [
            {
                "s3": {
                    "bucket": {"name": emulator.landing_bucket},
                    "object": {"key": obj.key, "size": len(obj.body), "eTag": "e"},
                }
            }
        ]
    }
    s3.put_object(Bucket=emulator.landing_bucket, Key=obj.key, Body=obj.body)  # notifies the queue as well
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "bad", "MessageBody": "{not json"},
            {"Id": "again", "MessageBody": json.dumps(notification)},  # a redelivery of the real notification
        ],
    )

    def dead_lettered() -> list[dict]:
        return sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])

    (message,) = wait_for(dead_lettered, 60, "the malformed message to reach the DLQ", interval=0.5)
    assert message["Body"] == "{not json"
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= 5  # the queue's maxReceiveCount
    new = [e for e in emulator.executions() if e["name"] not in before]
    assert len(new) == 1  # the notification and its redelivery: one run
    described = emulator.wait_for_execution(new[0]["executionArn"])
    assert described["status"] == "SUCCEEDED"
