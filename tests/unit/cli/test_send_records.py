"""The README's way of sending records: every record reaches Firehose, refused ones are sent again."""

from __future__ import annotations

import json

import boto3
import pytest

from examples import send_records


class FlakyFirehose:
    """Refuses the first record of every call once, as PutRecordBatch does under throttling."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.calls = 0

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803
        self.calls += 1
        responses = []
        for n, record in enumerate(Records):
            if n == 0 and self.calls % 2:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"})
            else:
                self.received.append(record["Data"])
                responses.append({"RecordId": str(len(self.received))})
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


def test_every_record_arrives_once_in_calls_of_at_most_500(monkeypatch):
    monkeypatch.setattr(send_records.time, "sleep", lambda seconds: None)
    lines = [b'{"event_id":"%d"}\n' % n for n in range(1200)] + [b"\n", b"  \r\n"]
    firehose = FlakyFirehose()
    assert send_records.send(firehose, "stream", lines) == 1200
    assert sorted(firehose.received) == sorted(line.rstrip() for line in lines if line.strip())


def test_records_refused_every_time_are_an_error(monkeypatch):
    monkeypatch.setattr(send_records.time, "sleep", lambda seconds: None)

    class Refusing(FlakyFirehose):
        def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803
            return {"FailedPutCount": len(Records), "RequestResponses": [{"ErrorCode": "x"} for _ in Records]}

    with pytest.raises(RuntimeError, match="refused 5 times"):
        send_records.send(Refusing(), "stream", [b'{"a":1}'])


def test_the_stream_is_found_from_the_stacks_outputs_and_records_land(aws):
    session = boto3.Session(region_name="us-east-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket="landing")
    firehose = session.client("firehose")
    destination = {"BucketARN": "arn:aws:s3:::landing", "RoleARN": "arn:aws:iam::123456789012:role/r", "Prefix": "raw/"}
    firehose.create_delivery_stream(
        DeliveryStreamName="landfall-stream", ExtendedS3DestinationConfiguration=destination
    )
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"DeliveryStreamName": {"Value": "landfall-stream"}},
    }
    session.client("cloudformation").create_stack(StackName="landfall", TemplateBody=json.dumps(template))
    assert send_records.stream_of("landfall", session) == "landfall-stream"
    assert send_records.send(firehose, "landfall-stream", [b'{"event_id":"1"}\n', b'{"event_id":"2"}\n']) == 2
    landed = s3.list_objects_v2(Bucket="landing", Prefix="raw/")["Contents"]
    body = b"".join(s3.get_object(Bucket="landing", Key=o["Key"])["Body"].read() for o in landed)
    assert b'{"event_id":"1"}' in body and b'{"event_id":"2"}' in body
