"""Send JSON records (one per line) to a Landfall stack's Firehose delivery stream.

    .venv/bin/python examples/send_records.py --stack landfall records.jsonl     # or records on stdin

PutRecordBatch takes up to 500 records (4 MiB) per call and may refuse some of them
(`FailedPutCount`): those are sent again, with backoff, until none is left or the tries run out.
Firehose's AppendDelimiterToRecord processor puts the newline after each record in S3.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator

import boto3

MAX_RECORDS, MAX_BYTES = 500, 4 * 1024 * 1024  # one PutRecordBatch call


def batches(lines: Iterable[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for line in lines:
        record = line.rstrip(b"\r\n")
        if not record.strip():
            continue
        if batch and (len(batch) == MAX_RECORDS or size + len(record) > MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


def send(firehose, stream: str, lines: Iterable[bytes], tries: int = 5) -> int:
    """Send every record; returns how many were sent. Raises if some are still refused after `tries`."""
    sent = 0
    for batch in batches(lines):
        pending = batch
        for attempt in range(tries):
            response = firehose.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": r} for r in pending])
            pending = [
                r for r, result in zip(pending, response["RequestResponses"], strict=True) if "ErrorCode" in result
            ]
            if not pending:
                break
            time.sleep(min(2**attempt * 0.1, 5))
        else:
            raise RuntimeError(f"{len(pending)} records were refused {tries} times, e.g. {pending[0][:80]!r}")
        sent += len(batch)
    return sent


def stream_of(stack: str, session: boto3.Session) -> str:
    outputs = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "DeliveryStreamName")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--region")
    parser.add_argument("file", nargs="?", type=argparse.FileType("rb"), default=sys.stdin.buffer)
    args = parser.parse_args(argv)
    session = boto3.Session(region_name=args.region)
    count = send(session.client("firehose"), stream_of(args.stack, session), args.file)
    print(f"{count} records sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
