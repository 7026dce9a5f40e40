"""`make bench`: the table's upkeep compacting one hour of many small files (`landfall.upkeep`), through
a moto server on 127.0.0.1: its throughput, its peak memory at 4× the partition (flat: one input file at
a time), beside a naive rewrite that reads the whole partition into memory with pyarrow and writes it
once; and what compacting costs a terabyte, priced as the pipeline's runs are.

The small files are what the processor writes for an hour's late records: events of the default job,
written with its own writer (zstd, field ids), committed as runs commit them.
"""

from __future__ import annotations

import io
import random
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import msgspec
from arro3.core import RecordBatchReader

from benchmarks.cost import GLUE_USD_PER_DPU_HOUR
from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import commit_run
from landfall.commit.objects import RunFile
from landfall.commit.tables import put_table
from landfall.core.costs import COMMIT_GLUE_REQUESTS, COMMIT_S3_GETS, COMMIT_S3_PUTS, Prices
from landfall.core.layout import curated_key, object_digest
from landfall.core.writers import put_requests
from landfall.jobs import default_job
from landfall.jobs.samples import event_lines
from landfall.process.columnar import Source, to_batch
from landfall.process.curated import write_parquet_file
from landfall.table.schema import table_of
from landfall.upkeep.compaction import compact
from landfall.upkeep.compaction_plan import plan_compaction
from landfall.upkeep.compaction_rewrite import COMPACTION_PART_BYTES
from landfall.upkeep.messages import CompactionSettings, MiB

BUCKET, DATABASE = "bench-upkeep", "bench"
# small files in the hour: the larger 3× the smaller and about the most an item holds (128 MiB). Both
# past the writer's second row group: below it (30 files) the peak sits under what every larger hour
# reaches, and a comparison from there measures that step, not growth (docs/performance.md)
SIZES = (60, 180)
ROWS_PER_FILE = 20_000  # ~0.7 MB of Parquet: an hour's late records in a batch's file
HOURS = {60: 10, 180: 11}  # each size its own hour of 2026-11-22
LATER = datetime(2026, 11, 23, tzinfo=UTC)  # both hours closed
TABLE = table_of(default_job())


def _clients(endpoint: str) -> tuple[Any, Any]:
    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")  # noqa: S106
    return session.client("s3", endpoint_url=endpoint), session.client("glue", endpoint_url=endpoint)


def _partition(files: int) -> str:
    return f"dt=2026-11-22/hour={HOURS[files]:02d}"


def make_partition(endpoint: str, files: int) -> int:
    """`files` small files in their hour, written and committed one run each; their bytes."""
    s3, glue = _clients(endpoint)
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
        glue.create_database(DatabaseInput={"Name": DATABASE})
    catalog = TableCatalog(glue, s3)
    put_table(catalog, f"{DATABASE}.events", TABLE, f"s3://{BUCKET}/curated/events")
    decoder, partition, total = msgspec.json.Decoder(default_job().record_type), _partition(files), 0
    start = datetime(2026, 11, 22, HOURS[files], 59, tzinfo=UTC)
    for number in range(files):
        rng = random.Random(number)  # noqa: S311 - seeded events, not secrets
        records = [decoder.decode(line) for line, _ in event_lines(rng, ROWS_PER_FILE, start, 0.0, spread_s=3000)]
        records = [r for r in records if r.ts.hour == HOURS[files]]
        source = f"raw/{files}/{number}.gz"
        batch = to_batch(TABLE, records, list(range(1, len(records) + 1)), Source("landing", source))
        buffer = io.BytesIO()
        write_parquet_file(TABLE, RecordBatchReader.from_batches(TABLE.arrow_schema, [batch]), buffer)
        run = f"bench-{files}-{number}"
        key = curated_key(TABLE.name, run, partition, "batch")
        s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
        digest = object_digest("landing", source)
        committed = [RunFile(key, len(records), len(buffer.getvalue()), partition, (digest,))]
        commit_run(catalog, f"{DATABASE}.events", run, committed, (BUCKET, TABLE.partitioning))
        total += len(buffer.getvalue())
    return total


def compact_partition(endpoint: str, files: str) -> dict[str, Any]:
    """The upkeep's plan and its children, one after another, for the hour (run in a fresh process)."""
    s3, glue = _clients(endpoint)
    catalog = TableCatalog(glue, s3)
    started = time.perf_counter()
    plan = plan_compaction(catalog, DATABASE, TABLE, BUCKET, f"upkeep-{files}", CompactionSettings(), LATER)
    items = [item for item in plan.items if item.partition == _partition(int(files))]
    results = [compact(item, s3, catalog, TABLE) for item in items]
    return {
        "seconds": time.perf_counter() - started,
        "bytes_in": sum(r.bytes_in for r in results),
        "bytes_out": sum(r.bytes_out for r in results),
        "files_in": sum(r.files_in for r in results),
        "files_out": sum(r.files_out for r in results),
        "rows": sum(r.rows for r in results),
        "planned_files_after": sum(
            1
            for task in catalog.load_table(f"{DATABASE}.events").scan().plan_files()
            if _partition(int(files)) in task.file.file_path
        ),
    }


def naive_rewrite(endpoint: str, files: str) -> dict[str, Any]:
    """The common way: every file of the hour read into one pyarrow table, written as one file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3, _ = _clients(endpoint)
    prefix, started = "curated/events/data/", time.perf_counter()
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
        if f"/bench-{files}-" in o["Key"]
    ]
    table = pa.concat_tables(
        pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())) for k in keys
    )
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    s3.put_object(Bucket=BUCKET, Key=f"naive/{files}.parquet", Body=out.getvalue())
    return {"seconds": time.perf_counter() - started, "rows": table.num_rows}


# S3 Tables' compaction, list prices (https://aws.amazon.com/s3/pricing/, "S3 Tables maintenance pricing",
# binpack, read 2026-12-05; they were 10× this at launch): per GB and per 1,000 objects processed. Glue's
# managed compaction is billed per DPU-hour of its optimizer, with no published throughput to price a
# terabyte by: the row says how many DPU-hours Landfall's price buys instead.
S3_TABLES_USD_PER_GB, S3_TABLES_USD_PER_1000_OBJECTS = 0.005, 0.002
COMPACTOR_MB = 1769
TARGET_BYTES = CompactionSettings().target_bytes


def terabyte(measured: dict[str, Any], small_file_bytes: float) -> dict[str, float]:
    """1 TB of small files (of `small_file_bytes` each) compacted at the measured speed: its children's
    Lambda time, a GET per small file, the new files' multipart PUTs and one commit per item, and two
    state transitions per child; beside S3 Tables' price for the same."""
    prices = Prices()
    files = 1e12 / small_file_bytes
    items = 1e12 / TARGET_BYTES  # an item is about the target's worth of small files
    seconds = 1e12 / (measured["bytes_in"] / measured["seconds"])
    lambda_usd = seconds * COMPACTOR_MB / 1024 * prices.lambda_gb_second + items * prices.lambda_request
    puts = items * (put_requests(TARGET_BYTES, COMPACTION_PART_BYTES) + COMMIT_S3_PUTS)
    gets = files + items * COMMIT_S3_GETS
    s3_usd = gets * prices.s3_get + puts * prices.s3_put
    total = (
        lambda_usd + s3_usd + items * 2 * prices.state_transition + items * COMMIT_GLUE_REQUESTS * prices.glue_request
    )
    return {
        "small_files": files,
        "lambda_usd": lambda_usd,
        "s3_usd": s3_usd,
        "usd": total,
        "s3_tables_usd": 1000 * S3_TABLES_USD_PER_GB + files / 1000 * S3_TABLES_USD_PER_1000_OBJECTS,
        "glue_dpu_hours_at_this_price": total / GLUE_USD_PER_DPU_HOUR,
    }


TARGETS_MIB = (64, 128, 256, 512)  # the template's TargetFileMiB values


def by_target(file_mb: list[float], batches: float, pipeline_usd: float, usd_per_tb: float) -> dict[str, Any]:
    """For each target the template allows: the bytes of a terabyte's batch files that the plan would
    call small (under its share of the target), and the terabyte's price with them compacted once at
    the measured `usd_per_tb` (a file over the share is never rewritten)."""
    figures = {}
    for mib in TARGETS_MIB:
        small = CompactionSettings(target_bytes=mib * MiB).small_bytes
        small_bytes = 1e6 * sum(mb for mb in file_mb if 1e6 * mb < small) * batches
        figures[str(mib)] = {
            "small_bytes_per_tb": small_bytes,
            "pipeline_usd": pipeline_usd + usd_per_tb * small_bytes / 1e12,
        }
    return figures


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    large, small = (results[f"files_{n}"] for n in (max(SIZES), min(SIZES)))
    tb, naive = results["terabyte"], results["naive_rss_mb"]
    return [
        (
            f"compaction, {large['files_in']} small files of an hour",
            f"{large['bytes_in'] / large['seconds'] / 1e6:.1f} MB/s",
            f"{large['files_in']} → {large['files_out']} files, rows kept; "
            f"{results['x_naive']:.2f}× a naive pyarrow rewrite in memory",
        ),
        (
            f"peak RSS, compaction, {min(SIZES)} → {max(SIZES)} small files",
            f"{small['rss_mb']:.0f} → {large['rss_mb']:.0f} MB",
            f"naive: {naive[str(min(SIZES))]:.0f} → {naive[str(max(SIZES))]:.0f} MB",
        ),
        (
            "1 TB of small files compacted",
            f"${tb['usd']:,.2f}",
            f"{tb['small_files']:,.0f} files; S3 Tables: ${tb['s3_tables_usd']:,.2f}; "
            f"Glue: what {tb['glue_dpu_hours_at_this_price']:.1f} DPU-hours cost",
        ),
        (
            "files a query of a day plans, at 1 TB a day",
            f"{results['day_files_before']:,} → {results['day_files_after']:,}",
            f"compacted: the {results['day_small_files']:,} late hours' files; the hour above, planned by "
            f"pyiceberg: {large['files_in']} → {large['planned_files_after']}",
        ),
        (
            "1 TB of input, the pipeline with a compaction pass",
            f"${results['pipeline_with_compaction_usd']:,.2f}",
            f"without: ${results['pipeline_usd']:,.2f}; the small files of a TB: "
            f"{results['small_bytes_per_tb'] / 1e9:.1f} GB",
        ),
        (
            "the same by TargetFileMiB",
            " · ".join(f"{mib}: ${figure['pipeline_usd']:,.2f}" for mib, figure in results["by_target"].items()),
            "GB compacted a TB: "
            + " · ".join(f"{figure['small_bytes_per_tb'] / 1e9:,.1f}" for figure in results["by_target"].values()),
        ),
    ]
