"""A batch at the defaults through the real processor: the table's files it writes, their sizes and
their PUT requests, which `benchmarks/cost.py` scales to a terabyte by the plan's batch count.

The batch is what the manifest writer cuts from a Firehose stream at the defaults (`cost.DEFAULTS`):
4 consecutive objects of 64 MB (256 MiB a batch), each arrived 5 minutes after the one before
(Firehose's default buffer interval), their events in the 5 minutes before each and 1 % up to two
hours late (`landfall.jobs.samples.event_lines`). It arrives within one hour, as most batches do; one
at an hour's edge writes one more file (`landfall.deploy.capacity.CURATED_FILES_PER_BATCH`).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import cost, workloads
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.process.messages import BatchInput, ObjectSummary, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall_cli.plan import RunPlan, Throughput

FIRST_ARRIVAL, BUFFER_INTERVAL = datetime(2026, 11, 22, 13, 35, tzinfo=UTC), timedelta(minutes=5)
RUN_ID = "bench-batch"


def objects_per_batch() -> int:
    """How many of the terabyte's objects a default batch holds."""
    return min(cost.DEFAULTS.max_items_per_batch, cost.DEFAULTS.max_batch_bytes // cost.OBJECT_BYTES)


def upload(endpoint: str, work: Path, objects: int | None = None, object_bytes: int = cost.OBJECT_BYTES) -> list[str]:
    """Generate the batch's objects (default: the terabyte's), each of `object_bytes` of gzip and arrived
    5 minutes after the one before, into the input bucket; their keys."""
    keys = []
    for number in range(objects or objects_per_batch()):
        at = FIRST_ARRIVAL + number * BUFFER_INTERVAL
        key = f"batch/{at:%Y/%m/%d/%H}/bench-1-{at:%Y-%m-%d-%H-%M-%S}-{number}.gz"
        path = work / f"batch-{number}.gz"
        workloads.make_file(path, 1 << 40, at=at, stored_bytes=object_bytes, seed=10 + number)  # bound: the gzip
        workloads.upload(endpoint, path, key)
        path.unlink()
        keys.append(key)
    return keys


def process(endpoint: str, *keys: str) -> dict[str, Any]:
    """The processor's whole work on the batch, as one child runs it: what it wrote and its requests."""
    s3 = workloads.client(endpoint)
    sizes = [s3.head_object(Bucket=workloads.INPUT, Key=key)["ContentLength"] for key in keys]
    items = [ManifestItem(bucket=workloads.INPUT, key=key, size=size) for key, size in zip(keys, sizes, strict=True)]
    event = ProcessorEvent(batch_input=BatchInput(run_id=RUN_ID, output_bucket=workloads.OUTPUT), items=items)
    started = time.perf_counter()
    summary = process_batch(event, s3, ProcessorSettings(), default_job())
    seconds = time.perf_counter() - started
    objects = summary.objects
    if summary.objects_key:  # a large summary goes to S3
        body = s3.get_object(Bucket=workloads.OUTPUT, Key=summary.objects_key)["Body"].read()
        objects = [ObjectSummary.model_validate_json(line) for line in body.splitlines()]
    assert [o.status for o in objects] == ["processed"] * len(items), [o.error for o in objects]
    return {
        "object_bytes": sizes,
        "seconds": seconds,
        "files": [{"partition": f.partition, "rows": f.rows, "bytes": f.bytes} for f in summary.files],
        "hours": sorted({p for o in objects for p, rows in o.rows_by_partition.items() if rows}),
        "file_puts": summary.s3_puts,
        "quarantine_puts": sum(o.s3_puts for o in objects),
    }


def half_bytes_in_files_of(sizes: list[int]) -> int:
    """The size of the file that holds the median byte: half the bytes are in files at least that large."""
    held = 0
    for size in sorted(sizes, reverse=True):
        held += size
        if 2 * held >= sum(sizes):
            return size
    return 0


def figures(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch's files: how many, their sizes, and their PUTs beside what the plan prices for them (at
    the batch's own Parquet bytes per input byte)."""
    sizes = [file["bytes"] for file in batch["files"]]
    plan = RunPlan(cost.DEFAULTS)
    for number, size in enumerate(batch["object_bytes"]):
        plan.add(ManifestItem(bucket="landing", key=f"raw/{number}.gz", size=size))
    throughput = Throughput(files_per_batch=len(sizes), curated_ratio=sum(sizes) / plan.bytes)
    return {
        "stored_mb": plan.bytes / 1e6,
        "files_per_batch": len(sizes),
        "hours": len(batch["hours"]),  # of its records: a file each
        "file_mb": sorted((size / 1e6 for size in sizes), reverse=True),
        "median_file_mb": statistics.median(sizes) / 1e6,
        "half_bytes_in_files_of_mb": half_bytes_in_files_of(sizes) / 1e6,
        "file_puts": batch["file_puts"],
        "planned_file_puts": plan.curated_puts(throughput),
        "quarantine_puts": batch["quarantine_puts"],
        "seconds": batch["seconds"],
    }


def rows(measured: dict[str, Any], terabyte: dict[str, Any]) -> list[tuple[str, str, str]]:
    sizes = ", ".join(f"{mb:,.1f}" for mb in measured["file_mb"])
    return [
        (
            f"a default batch ({measured['stored_mb']:,.0f} MB of gzip): its files",
            f"{measured['files_per_batch']}",
            f"one per hour of its records ({measured['hours']}): {sizes} MB",
        ),
        (
            "  the PUTs of its files, measured",
            f"{measured['file_puts']}",
            f"planned {measured['planned_file_puts']}; and {measured['quarantine_puts']} for its objects' quarantine",
        ),
        ("  peak RSS of its processor", f"{measured['rss_mb']:,.0f} MB", "in Lambda's environment"),
        (
            "1 TB: files in the table",
            f"{terabyte['files']:,}",
            f"{terabyte['batches']:,} batches as the plan cuts them",
        ),
        (
            "1 TB: median file",
            f"{measured['median_file_mb']:,.1f} MB",
            f"half the bytes in files of {measured['half_bytes_in_files_of_mb']:,.0f} MB or more "
            "(the small files: late records)",
        ),
    ]
