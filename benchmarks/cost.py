"""What a terabyte of Firehose output costs, from what `make bench` measured: the processor's gzip
throughput on one core, the Parquet bytes it writes per input byte, the files a default batch writes
(`benchmarks/batch.py`), the reducer's time per result record and a commit's time by its files
(`benchmarks/commit.py`), planned and priced as `landfall backfill --dry-run` plans and prices a run
(default parameters, us-east-1)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

from landfall.core.costs import COMMIT_S3_GETS, COMMIT_S3_PUTS, Prices, Usage, estimate
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall_cli.plan import RunPlan, Throughput

OBJECTS, OBJECT_BYTES = 15_625, 64_000_000  # 1 TB in Firehose objects of 64 MB (FirehoseBufferSizeMiB)
DEFAULTS = RunConfig(
    max_concurrency=100, max_items_per_batch=20, max_batch_bytes=256 << 20, tolerated_failure_percentage=5
)
PROCESSOR_MB, REDUCER_MB = 1769, 1024


def commit_seconds(times: dict[str, Any], files: int) -> float:
    """A commit of `files` files, from the commits timed at other sizes (`commit.commit_times`): linear
    between the two sizes around it (a fixed part, then the manifest's entries), beyond the largest
    along the last two."""
    points = sorted((int(size), float(figure["median_s"])) for size, figure in times.items())
    if files <= points[0][0] or len(points) == 1:
        return points[0][1]
    pairs = list(pairwise(points))
    (low, low_s), (high, high_s) = next((pair for pair in pairs if files <= pair[1][0]), pairs[-1])
    return low_s + (high_s - low_s) * (files - low) / (high - low)


def terabyte(
    stored_bytes_per_second: float,
    curated_ratio: float,
    files_per_batch: float,
    reducer_seconds_per_result: float,
    commit_times: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The terabyte planned and priced; the commit's time from `commit_times` when measured, else the
    plan's own (`landfall.deploy.capacity`)."""
    plan = RunPlan(DEFAULTS)
    for number in range(OBJECTS):
        plan.add(ManifestItem(bucket="landing", key=f"raw/{number}.gz", size=OBJECT_BYTES))
    throughput = Throughput(
        stored_bytes_per_second=stored_bytes_per_second,
        curated_ratio=curated_ratio,
        files_per_batch=files_per_batch,
        reducer_seconds=reducer_seconds_per_result * plan.batches,  # a result a batch
    )
    files = plan.files(throughput)
    if commit_times:
        throughput = replace(throughput, commit_seconds=commit_seconds(commit_times, files))
    costs = {
        arch: plan.cost(PROCESSOR_MB, REDUCER_MB, throughput, Prices().on(arch)).model_dump()
        for arch in ("x86_64", "arm64")
    }
    commit_s = plan.reducer_seconds(throughput) - throughput.reducer_seconds
    before = per_object_files(costs["x86_64"], plan.curated_puts(throughput), commit_s)
    return {
        "batches": plan.batches,
        "before_usd": before,  # the previous release's files, priced from this run's figures
        "x_before": costs["x86_64"]["total_usd"] / before,
        "minutes": plan.duration_seconds(throughput) / 60,
        "throughput_bytes_per_second": stored_bytes_per_second,
        "curated_ratio": curated_ratio,
        "files_per_batch": files_per_batch,
        "files": files,
        "curated_puts": plan.curated_puts(throughput),
        "reducer_seconds": throughput.reducer_seconds,  # the results and the report
        "commit_seconds": commit_s,
        "cost": costs["x86_64"],
        "cost_arm64": costs["arm64"],
        "usd_per_tb": {arch: cost["total_usd"] for arch, cost in costs.items()},
    }


PREVIOUS_FILES_PER_OBJECT = 3  # one per object and hour its records span, each one PUT (below 64 MiB)


def per_object_files(cost: dict[str, Any], curated_puts: int, commit_s: float) -> float:
    """$ for the same terabyte as the previous release wrote it, with this run's measured speed: a file per
    object and hour instead of per batch and hour, and no commit (no Glue, no commit requests or time)."""
    usage = Usage.model_validate(cost["usage"])
    before = usage.model_copy(
        update={
            "s3_puts": usage.s3_puts - curated_puts - COMMIT_S3_PUTS + OBJECTS * PREVIOUS_FILES_PER_OBJECT,
            "s3_gets": usage.s3_gets - COMMIT_S3_GETS,
            "glue_requests": 0,
            "lambda_gb_seconds": usage.lambda_gb_seconds - commit_s * REDUCER_MB / 1024,
        }
    )
    return estimate(before, OBJECTS * OBJECT_BYTES, Prices()).total_usd


def rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    cost, usage = result["cost"], result["cost"]["usage"]
    return [
        (
            "1 TB: Lambda",
            f"${cost['lambda_usd']:,.2f}",
            f"{usage['lambda_requests']:,} invocations, {usage['lambda_gb_seconds']:,.0f} GB-s",
        ),
        ("1 TB: Step Functions", f"${cost['step_functions_usd']:,.2f}", f"{usage['state_transitions']:,} transitions"),
        (
            "1 TB: S3 requests",
            f"${cost['s3_usd']:,.2f}",
            f"{usage['s3_gets']:,} GET, {usage['s3_puts']:,} PUT ({result['curated_puts']:,} of them the files')",
        ),
        (
            "1 TB: the run's commit",
            f"{result['commit_seconds']:.1f} s",
            f"{result['files']:,} files; {usage['glue_requests']} Glue requests (${cost['glue_usd']:.6f})",
        ),
        (
            "1 TB: total, x86_64",
            f"${cost['total_usd']:,.2f}",
            f"${cost['usd_per_gb']:.4f}/GB, {result['minutes']:.0f} min at MaxConcurrency 100",
        ),
        (
            "1 TB: the previous release's files, same speed",
            f"${result['before_usd']:,.2f}",
            f"a file per object and hour, no commit: now {result['x_before']:.3f}× that",
        ),
        (
            "1 TB: total, arm64 (Lambda ~20 % cheaper a GB-s)",
            f"${result['cost_arm64']['total_usd']:,.2f}",
            f"Lambda ${result['cost_arm64']['lambda_usd']:,.2f}, the same speed assumed (not measurable here)",
        ),
    ]


# What the alternatives charge, us-east-1 list prices (the README's table gives the same, with sources)
ATHENA_USD_PER_TB_SCANNED = 5.0  # https://aws.amazon.com/athena/pricing/
FIREHOSE_CONVERSION_USD_PER_GB = 0.018  # https://aws.amazon.com/firehose/pricing/ (per GB ingested, 5 KB steps)
FIREHOSE_RECORD_STEP = 5 * 1024
GLUE_USD_PER_DPU_HOUR = 0.44  # https://aws.amazon.com/glue/pricing/


def alternatives(uncompressed_per_stored: float, mean_record_bytes: float, landfall_usd: float) -> dict[str, float]:
    """What 1 TB of gzip input costs elsewhere, from the measured file: its JSON bytes per gzip byte and
    its mean record size (Firehose bills each record as a whole number of 5 KB steps); and the Glue
    DPU-hours that Landfall's own price for it would buy."""
    json_gb = 1000 * uncompressed_per_stored
    billed_per_record = -(-mean_record_bytes // FIREHOSE_RECORD_STEP) * FIREHOSE_RECORD_STEP  # one event a record
    return {
        "json_gb_per_tb_gzip": json_gb,
        "athena_usd_per_query": ATHENA_USD_PER_TB_SCANNED,
        "firehose_conversion_usd_batched": json_gb * FIREHOSE_CONVERSION_USD_PER_GB,
        "firehose_conversion_usd_one_event_per_record": json_gb
        * FIREHOSE_CONVERSION_USD_PER_GB
        * billed_per_record
        / mean_record_bytes,
        "glue_dpu_hours_at_landfalls_price": landfall_usd / GLUE_USD_PER_DPU_HOUR,
    }


def alternative_rows(result: dict[str, float]) -> list[tuple[str, str, str]]:
    return [
        (
            "1 TB elsewhere: Athena over the gzip JSON",
            f"${result['athena_usd_per_query']:,.2f}",
            "each query that reads it all ($5 per TB scanned)",
        ),
        (
            "1 TB elsewhere: Firehose conversion to Parquet",
            f"${result['firehose_conversion_usd_batched']:,.2f}",
            f"{result['json_gb_per_tb_gzip']:,.0f} GB of JSON at $0.018/GB, records batched to ≥ 5 KB; "
            f"${result['firehose_conversion_usd_one_event_per_record']:,.0f} at one event per record",
        ),
        (
            "1 TB elsewhere: a Glue job",
            f"{result['glue_dpu_hours_at_landfalls_price']:.1f} DPU-h",
            "what Landfall's x86_64 price buys at $0.44 per DPU-hour",
        ),
    ]
