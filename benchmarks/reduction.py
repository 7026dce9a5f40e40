"""`make bench`: the reducer on 100,000 result records vs a naive `json.load` of every result file.

Both read the same files from a local folder through the same stand-in S3 client, so what is compared
is reading, parsing and merging: the naive way loads each file whole and parses every `Output`; the
reducer streams, reconciles against the manifest, and writes its report and redrive manifest too.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from landfall.core.layout import curated_key, manifest_key, quarantine_key, results_prefix
from landfall.core.messages import MESSAGE_VERSION, S3Location
from landfall.core.observability import logger
from landfall.ingest.batching import item_json, manifest_line
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs import default_job
from landfall.reduce.messages import ReducerEvent
from landfall.reduce.reduction import reduce_run

RUN = "backfill-0123456789abcdef0123456789abcdef"
BUCKET = "pipeline"
HOURS = ((12, 50_000), (13, 149_800))  # each object's rows by hour
TYPES = ["page_view", "click", "add_to_cart", "purchase", "search", "signup", "login", "logout", "share", "error"]


class _FileBody:
    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def iter_lines(self, chunk_size: int = 1024) -> Any:
        for line in self._file:
            yield line.rstrip(b"\r\n")
        self._file.close()


class FolderS3:
    """The few S3 calls the reducer makes, served from a folder (bucket/key → folder/key)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's shape
        return {"Body": _FileBody(self.root / Key)}

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's shape
        return {"LastModified": datetime.fromtimestamp((self.root / Key).stat().st_mtime, UTC)}

    def put_object(self, Bucket: str, Key: str, Body: bytes | str, **_: Any) -> None:  # noqa: N803
        path = self.root / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body.encode() if isinstance(Body, str) else Body)

    def create_multipart_upload(self, Bucket: str, Key: str) -> dict[str, str]:  # noqa: N803
        path = self.root / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return {"UploadId": Key}

    def upload_part(self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes) -> dict[str, str]:  # noqa: N803
        with (self.root / Key).open("ab") as out:  # parts come in order: appended, they are the object
            out.write(Body)
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, **_: Any) -> None:
        pass

    def list_objects_v2(self, Bucket: str, Prefix: str, MaxKeys: int = 1000, **_: Any) -> dict[str, Any]:  # noqa: N803
        found = sorted(p for p in (self.root / Prefix).rglob("*") if p.is_file())[:MaxKeys]
        return {"Contents": [{"Key": str(p.relative_to(self.root))} for p in found]}

    def get_paginator(self, name: str) -> FolderS3:
        return self

    def paginate(self, Bucket: str, Prefix: str) -> Any:  # noqa: N803
        found = sorted(p for p in (self.root / Prefix).rglob("*") if p.is_file())
        modified = [datetime.fromtimestamp(p.stat().st_mtime, UTC) for p in found]
        yield {
            "Contents": [
                {"Key": str(p.relative_to(self.root)), "LastModified": m} for p, m in zip(found, modified, strict=True)
            ]
        }


def make_results(root: Path, records: int, per_file: int = 10_000) -> None:
    """A run of `records` one-object batches, as ResultWriter (JSONL) and the manifest writer leave it."""
    rng = random.Random(4)  # noqa: S311 - test data
    keys = [f"raw/2026/11/22/13/landfall-1-2026-11-22-13-05-00-{n:08d}.gz" for n in range(records)]
    (root / manifest_key("backfill", RUN)).parent.mkdir(parents=True, exist_ok=True)
    with (root / manifest_key("backfill", RUN)).open("wb") as manifest:
        for key in keys:  # one object a batch, as a run of 64 MiB objects with MaxBatchMiB 64 cuts them
            item = ManifestItem(bucket="landing", key=key, size=64 << 20, etag="e")
            manifest.write(manifest_line(item.size, [item_json(item)]))
    results = root / results_prefix(RUN) / "6f2a0a3e"
    results.mkdir(parents=True, exist_ok=True)
    files = []
    for number, start in enumerate(range(0, records, per_file)):
        path = results / f"SUCCEEDED_{number}.json"
        with path.open("w") as out:
            for key in keys[start : start + per_file]:
                out.write(json.dumps(_record(rng, key)) + "\n")
        files.append({"Key": str(path.relative_to(root)), "Size": path.stat().st_size})
    manifest = {
        "DestinationBucket": BUCKET,
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:p/m:6f2a0a3e",
        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": files},
    }
    (results / "manifest.json").write_text(json.dumps(manifest))


def _files(key: str) -> list[dict[str, Any]]:
    """The files of a batch of one object: one per hour, holding its rows."""
    return [
        {
            "key": curated_key("events", RUN, f"dt=2026-11-22/hour={h}", key[-12:]),
            "rows": rows,
            "bytes": rows * 25,
            "partition": f"dt=2026-11-22/hour={h}",
        }
        for h, rows in HOURS
    ]


def _record(rng: random.Random, key: str) -> dict[str, Any]:
    by_type = {
        t: {"count": rng.randint(1, 9000), "sum": rng.random() * 1e6, "min": rng.random(), "max": 900 + rng.random()}
        for t in TYPES
    }
    obj = {
        "version": MESSAGE_VERSION,
        "bucket": "landing",
        "key": key,
        "status": "processed",
        "framing": "newline",
        "bytes_read": 64 << 20,
        "records": 200_000,
        "valid": 199_800,
        "rejected": 200,
        "rejected_by_reason": {"schema": 150, "invalid_json": 50},
        "rows_by_partition": {f"dt=2026-11-22/hour={h}": rows for h, rows in HOURS},
        "quarantine_key": quarantine_key(RUN, "0123456789abcdef01234567"),
        "s3_gets": 1,
        "s3_puts": 1,  # its quarantine; the batch counts its files
    }
    output = {
        "version": MESSAGE_VERSION,
        "run_id": RUN,
        "objects": [obj],
        "files": _files(key),
        "s3_puts": 2,
        "duration_ms": 5200,
        "memory_mb": 1769,
        "aggregates": {"by_type": by_type, "by_hour": {"2026-11-22T12": 50_000, "2026-11-22T13": 149_800}},
    }
    child_input = {
        "BatchInput": {"version": MESSAGE_VERSION, "run_id": RUN, "output_bucket": BUCKET},
        "Items": [{"version": MESSAGE_VERSION, "bucket": "landing", "key": key, "size": 64 << 20, "etag": "e"}],
    }
    return {
        "ExecutionArn": f"arn:aws:states:us-east-1:123456789012:execution:p/m:{key[-12:]}",
        "Input": json.dumps(child_input),
        "InputDetails": {"Included": True},
        "Name": key[-12:],
        "Output": json.dumps(output),
        "OutputDetails": {"Included": True},
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "StartDate": "2026-11-22T13:05:00.123Z",
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:p/m",
        "Status": "SUCCEEDED",
        "StopDate": "2026-11-22T13:05:05.323Z",
    }


def reducer(root: str) -> float:
    """The reducer's whole work on the run in `root`; its seconds."""
    logger.setLevel("WARNING")
    folder = Path(root)
    records = sum(1 for _ in (folder / manifest_key("backfill", RUN)).open())
    event = ReducerEvent(
        run_id=RUN,
        source="backfill",
        manifest=S3Location(bucket=BUCKET, key=manifest_key("backfill", RUN)),
        objects=records,
        bytes=records * (64 << 20),
        output_bucket=BUCKET,
        batches=records,
        config=RunConfig(
            max_concurrency=100, max_items_per_batch=1, max_batch_bytes=64 << 20, tolerated_failure_percentage=5
        ),
    )
    started = time.perf_counter()
    report = reduce_run(event, FolderS3(folder), default_job())
    seconds = time.perf_counter() - started
    assert report.status == "SUCCEEDED" and report.objects.processed == records, report.status_reason
    return seconds


def naive(root: str) -> float:
    """What public samples do: json.load each SUCCEEDED file whole, json.loads every Output, merge."""
    folder = Path(root)
    job = default_job()
    started = time.perf_counter()
    (manifest_path,) = folder.glob(f"{results_prefix(RUN)}/*/manifest.json")
    manifest = json.loads(manifest_path.read_bytes())
    loaded = []
    for entry in manifest["ResultFiles"]["SUCCEEDED"]:
        with (folder / entry["Key"]).open() as file:
            text = file.read()
        loaded += [json.loads(line) for line in text.splitlines()] if not text.startswith("[") else json.loads(text)
    aggregate, objects, records = job.new_aggregate(), 0, 0
    for record in loaded:
        output = json.loads(record["Output"])
        aggregate = job.merge(aggregate, output["aggregates"])
        objects += len(output["objects"])
        records += sum(o["records"] for o in output["objects"])
    seconds = time.perf_counter() - started
    assert objects == len(loaded)
    return seconds
