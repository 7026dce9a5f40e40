"""What a terabyte of Firehose output costs, from what `make bench` measured: the processor's gzip
throughput on one core, the Parquet bytes it writes per input byte and the files per object, planned
and priced as `landfall backfill --dry-run` plans and prices a run (default parameters, us-east-1)."""

from __future__ import annotations

from typing import Any

from landfall.models import ManifestItem, RunConfig
from landfall_cli.plan import RunPlan, Throughput

OBJECTS, OBJECT_BYTES = 15_625, 64_000_000  # 1 TB in Firehose objects of 64 MB (FirehoseBufferSizeMiB)
DEFAULTS = RunConfig(max_concurrency=100, max_items_per_batch=20, max_batch_bytes=256 << 20,
                     tolerated_failure_percentage=5)  # fmt: skip
PROCESSOR_MB, REDUCER_MB = 1769, 1024


def terabyte(stored_bytes_per_second: float, curated_ratio: float, files_per_object: float) -> dict[str, Any]:
    plan = RunPlan(DEFAULTS)
    for number in range(OBJECTS):
        plan.add(ManifestItem(bucket="landing", key=f"raw/{number}.gz", size=OBJECT_BYTES))
    throughput = Throughput(stored_bytes_per_second=stored_bytes_per_second, curated_ratio=curated_ratio,
                            files_per_object=files_per_object)  # fmt: skip
    cost = plan.cost(PROCESSOR_MB, REDUCER_MB, throughput)
    return {"batches": plan.batches, "minutes": plan.duration_seconds(throughput) / 60,
            "throughput_bytes_per_second": stored_bytes_per_second, "curated_ratio": curated_ratio,
            "files_per_object": files_per_object, "cost": cost.model_dump()}  # fmt: skip


def rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    cost, usage = result["cost"], result["cost"]["usage"]
    return [
        ("1 TB: Lambda", f"${cost['lambda_usd']:,.2f}",
         f"{usage['lambda_requests']:,} invocations, {usage['lambda_gb_seconds']:,.0f} GB-s"),
        ("1 TB: Step Functions", f"${cost['step_functions_usd']:,.2f}", f"{usage['state_transitions']:,} transitions"),
        ("1 TB: S3 requests", f"${cost['s3_usd']:,.2f}", f"{usage['s3_gets']:,} GET, {usage['s3_puts']:,} PUT"),
        ("1 TB: total", f"${cost['total_usd']:,.2f}",
         f"${cost['usd_per_gb']:.4f}/GB, {result['minutes']:.0f} min at MaxConcurrency 100"),
    ]  # fmt: skip
