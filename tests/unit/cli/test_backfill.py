"""Backfill listing, run splitting, manifests, and the dry-run plan and cost."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from landfall.core.costs import COMMIT_GLUE_REQUESTS, COMMIT_S3_GETS, COMMIT_S3_PUTS, Prices, Usage, estimate
from landfall.deploy.capacity import (
    COMMIT_SECONDS,
    COMMIT_SECONDS_PER_FILE,
    CURATED_BYTES_PER_STORED_BYTE,
    CURATED_FILES_PER_BATCH,
    GZIP_BYTES_PER_VCPU_SECOND,
)
from landfall.ingest.manifests import ManifestBuilder, RunStarter
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.process.curated import CURATED_PART_BYTES, CURATED_SINGLE_PUT_BYTES
from landfall_cli.backfill import Backfill, hour_prefixes, list_items
from landfall_cli.plan import RunPlan, Throughput

CONFIG = RunConfig(max_concurrency=10, max_items_per_batch=4, max_batch_bytes=10_000, tolerated_failure_percentage=5)
DEFAULTS = RunConfig(
    max_concurrency=100, max_items_per_batch=20, max_batch_bytes=256 << 20, tolerated_failure_percentage=5
)
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def item(key: str, size: int = 1000) -> ManifestItem:
    return ManifestItem(bucket="landing", key=key, size=size, etag="e")


def test_hour_prefixes_cover_the_range_with_whole_days_where_they_fit():
    prefixes = list(
        hour_prefixes("raw/", datetime(2026, 11, 21, 22, 30, tzinfo=UTC), datetime(2026, 11, 23, 2, tzinfo=UTC))
    )
    assert prefixes == [
        "raw/2026/11/21/22/",
        "raw/2026/11/21/23/",
        "raw/2026/11/22/",
        "raw/2026/11/23/00/",
        "raw/2026/11/23/01/",
    ]
    assert prefixes == sorted(prefixes)  # listing them in turn keeps the manifest's order


def test_the_run_id_is_the_manifests_and_items_come_in_manifest_order():
    def built(keys):
        builder = ManifestBuilder(CONFIG)
        for key in keys:
            builder.add(item(key))
        return builder

    builder = built([f"raw/k{i:03d}" for i in range(50)])
    assert (builder.objects, builder.bytes, builder.batches) == (50, 50_000, 13)
    assert builder.run_id("backfill") == built([f"raw/k{i:03d}" for i in range(50)]).run_id("backfill")
    assert builder.run_id("backfill") != built([f"raw/k{i:03d}" for i in range(49)]).run_id("backfill")
    with pytest.raises(ValueError, match="out of order"):
        built(["raw/b", "raw/a"])


def test_the_plan_cuts_batches_as_the_manifest_writer_does():
    plan = RunPlan(CONFIG)
    for i in range(10):
        plan.add(item(f"raw/{i}"))
    assert plan.batches == 3  # 4 + 4 + 2 objects
    large = RunPlan(CONFIG)
    for i, size in enumerate([6000, 6000, 3000, 25_000, 1]):
        large.add(item(f"raw/{i}", size))
    assert large.batches == 4  # 6000 | 6000 + 3000 | 25,000 alone | 1
    assert (large.largest_batch_bytes, large.larger_than_a_batch) == (25_000, 1)


def test_duration_follows_concurrency():
    one = RunPlan(CONFIG.model_copy(update={"max_concurrency": 1}))
    many = RunPlan(CONFIG)
    for i in range(40):
        one.add(item(f"raw/{i:02d}", 8_000_000))
        many.add(item(f"raw/{i:02d}", 8_000_000))
    speed = Throughput(stored_bytes_per_second=8e6, seconds_per_batch=0, reducer_seconds=0, commit_seconds=0)
    assert one.duration_seconds(speed) == pytest.approx(40)
    assert many.duration_seconds(speed) == pytest.approx(4)  # 10 batches of 4 s, 10 at a time
    with_commit = Throughput(stored_bytes_per_second=8e6, seconds_per_batch=0, reducer_seconds=1, commit_seconds=2)
    assert many.duration_seconds(with_commit) == pytest.approx(4 + 1 + 2)  # the reducer's, then the commit


def test_cost_adds_up_each_service_from_its_prices():
    usage = Usage(
        lambda_requests=1_000_000,
        lambda_gb_seconds=1000,
        state_transitions=1000,
        express_requests=1_000_000,
        express_gb_seconds=0,
        s3_gets=1000,
        s3_puts=1000,
        glue_requests=2000,
    )
    prices = Prices(
        lambda_gb_second=0.001,
        lambda_request=1e-6,
        state_transition=0.01,
        express_request=1e-6,
        express_gb_second=0,
        s3_get=0.001,
        s3_put=0.002,
        glue_request=0.0005,
    )
    cost = estimate(usage, input_bytes=2_000_000_000, prices=prices)
    assert (cost.lambda_usd, cost.step_functions_usd, cost.s3_usd, cost.glue_usd) == (2.0, 11.0, 3.0, 1.0)
    assert cost.total_usd == 17.0 and cost.usd_per_gb == 8.5


def test_a_terabyte_plan_counts_every_billed_unit():
    plan = RunPlan(DEFAULTS)
    for i in range(15_625):  # 64 MB Firehose objects
        plan.add(item(f"raw/{i:05d}", 64_000_000))
    cost = plan.cost(processor_memory_mb=1769, reducer_memory_mb=1024)
    assert plan.batches == math.ceil(15_625 / 4)  # 256 MiB of objects a batch
    batches = plan.batches
    files = math.ceil(batches * CURATED_FILES_PER_BATCH)
    assert plan.files(Throughput()) == files
    processor_seconds = 1e12 / GZIP_BYTES_PER_VCPU_SECOND + batches * 0.3
    reducer_seconds = 2.0 + COMMIT_SECONDS + files * COMMIT_SECONDS_PER_FILE  # its results, then the commit
    assert cost.usage.lambda_gb_seconds == pytest.approx(processor_seconds * 1769 / 1024 + reducer_seconds)
    # per STANDARD child: the map's transition that starts it and its own task; plus the parent's own
    assert cost.usage.state_transitions == 6 + 2 * batches
    assert cost.usage.express_requests == 0 and cost.usage.lambda_requests == batches + 2
    # each object; the manifest (and when it was written); the result files; the commit's metadata
    assert cost.usage.s3_gets == 15_625 + 5 + math.ceil(batches / 1000) + COMMIT_S3_GETS
    # each batch: its largest file (~174 MB of Parquet: a multipart upload) and a PUT for each other hour
    batch_parquet = math.ceil(plan.bytes / batches * CURATED_BYTES_PER_STORED_BYTE)
    largest = 2 + 1 + math.ceil((batch_parquet - CURATED_SINGLE_PUT_BYTES) / CURATED_PART_BYTES)
    files_puts = math.ceil(batches * (largest + CURATED_FILES_PER_BATCH - 1))
    # each object's quarantine, each batch's progress; the manifest, the result files and their manifest,
    # the reports, the redrive manifest; the commit's files
    own = 15_625 + batches + 1 + math.ceil(batches / 1000) + 1 + 4 + 1 + COMMIT_S3_PUTS
    assert cost.usage.s3_puts == files_puts + own
    assert cost.usage.glue_requests == COMMIT_GLUE_REQUESTS and cost.glue_usd > 0
    assert 3 < cost.total_usd < 8


def test_a_run_prices_each_batchs_files_not_each_objects():
    """Eight objects of 64 MB in two batches of 256 MiB: each batch writes 3 files (its hours), the one
    that holds its ~174 MB of Parquet in parts; the objects' quarantines are their own."""
    plan = RunPlan(DEFAULTS)
    for i in range(8):
        plan.add(item(f"raw/{i}", 64_000_000))
    throughput = Throughput(files_per_batch=3, curated_ratio=0.68)
    assert (plan.batches, plan.files(throughput)) == (2, 6)
    parts_after_the_first = math.ceil((math.ceil(256_000_000 * 0.68) - CURATED_SINGLE_PUT_BYTES) / CURATED_PART_BYTES)
    largest = 2 + 1 + parts_after_the_first  # create, the first part, the others, complete
    assert plan.curated_puts(throughput) == 2 * (largest + 2)
    # and the run's own: 8 quarantines, 2 progress markers, the manifest, a result file and the
    # ResultWriter's manifest, the reports, the redrive manifest, the commit's 4
    expected = 2 * (largest + 2) + 8 + 2 + 1 + 1 + 1 + 4 + 1 + COMMIT_S3_PUTS
    assert plan.cost(1769, 1024, throughput).usage.s3_puts == expected
    small = RunPlan(DEFAULTS)  # 20 objects of 1 MB: one batch, its files below the single-PUT size
    for i in range(20):
        small.add(item(f"raw/{i:02d}", 1_000_000))
    assert small.batches == 1 and small.curated_puts(throughput) == 3


def test_more_files_a_batch_cost_a_put_each_and_lengthen_the_commit():
    plan = RunPlan(DEFAULTS)
    for i in range(400):
        plan.add(item(f"raw/{i:03d}", 64_000_000))
    three, four = Throughput(files_per_batch=3), Throughput(files_per_batch=4)
    assert plan.cost(1769, 1024, four).usage.s3_puts - plan.cost(1769, 1024, three).usage.s3_puts == plan.batches
    assert plan.reducer_seconds(four) - plan.reducer_seconds(three) == pytest.approx(
        plan.batches * COMMIT_SECONDS_PER_FILE
    )
    measured = Throughput(files_per_batch=3, reducer_seconds=1.5, commit_seconds=4.0)
    assert plan.reducer_seconds(measured) == 5.5  # a measured commit replaces the modelled one


def test_an_empty_plan_commits_nothing_and_costs_no_commit():
    cost = RunPlan(DEFAULTS).cost(1769, 1024)
    assert cost.usage.glue_requests == 0 and cost.usage.s3_gets == 5  # the manifest's reads, no commit
    assert RunPlan(DEFAULTS).reducer_seconds(Throughput()) == 2.0


@pytest.fixture
def machine(s3, sfn):
    for bucket in ("landing", "pipeline"):
        s3.create_bucket(Bucket=bucket)
    return sfn.create_state_machine(name="p", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/r")[
        "stateMachineArn"
    ]


def test_backfill_splits_runs_skips_unwanted_objects_and_is_idempotent(s3, sfn, machine):
    for i in range(7):
        s3.put_object(Bucket="landing", Key=f"raw/2026/11/22/13/obj-{i}.gz", Body=b"x" * 10)
    s3.put_object(Bucket="landing", Key="raw/2026/11/22/13/empty.gz", Body=b"")
    s3.put_object(Bucket="landing", Key="raw/2026/11/22/13/notes.txt", Body=b"x")

    def backfill(dry_run=False):
        starter = RunStarter(s3, sfn, machine, "pipeline", CONFIG)
        run = Backfill(starter, "raw/", ".gz", objects_per_run=3, dry_run=dry_run)
        return run, run.run(list_items(s3, "landing", ["raw/"]))

    dry, planned = backfill(dry_run=True)
    assert [p.plan.objects for p in planned] == [3, 3, 1] and dry.skipped == 2
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []

    _, started = backfill()
    assert [p.started.new for p in started] == [True, True, True]
    key = started[0].started.execution_input.manifest.key
    manifest = s3.get_object(Bucket="pipeline", Key=key)["Body"].read().decode()
    assert [o["key"] for line in manifest.splitlines() for o in json.loads(line)["objects"]] == [
        f"raw/2026/11/22/13/obj-{i}.gz" for i in range(3)
    ]
    _, again = backfill()
    assert [p.started.new for p in again] == [False, False, False]
    assert [p.started.run_id for p in again] == [p.started.run_id for p in started]
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 3


def test_listing_pages_through_any_number_of_keys(s3, machine):
    for i in range(2_345):
        s3.put_object(Bucket="landing", Key=f"raw/k{i:05d}", Body=b"x")
    lists = [0]
    keys = [i.key for i in list_items(s3, "landing", ["raw/"], lists)]
    assert keys == [f"raw/k{i:05d}" for i in range(2_345)] and lists[0] == 3
