"""Backfill listing, run splitting, manifests, and the dry-run plan and cost."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from landfall.deploy.capacity import CURATED_BYTES_PER_STORED_BYTE, CURATED_FILES_PER_OBJECT, GZIP_BYTES_PER_VCPU_SECOND
from landfall.ingest.manifests import ManifestBuilder, RunStarter
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.process.curated import CURATED_PART_BYTES, CURATED_SINGLE_PUT_BYTES
from landfall.reduce.costs import Prices, Usage, estimate
from landfall_cli.backfill import Backfill, hour_prefixes, list_items
from landfall_cli.plan import RunPlan, Throughput

CONFIG = RunConfig(max_concurrency=10, max_items_per_batch=4, max_batch_bytes=10_000, tolerated_failure_percentage=5)
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
    speed = Throughput(stored_bytes_per_second=8e6, seconds_per_batch=0, reducer_seconds=0)
    assert one.duration_seconds(speed) == pytest.approx(40)
    assert many.duration_seconds(speed) == pytest.approx(4)  # 10 batches of 4 s, 10 at a time


def test_cost_adds_up_each_service_from_its_prices():
    usage = Usage(
        lambda_requests=1_000_000,
        lambda_gb_seconds=1000,
        state_transitions=1000,
        express_requests=1_000_000,
        express_gb_seconds=0,
        s3_gets=1000,
        s3_puts=1000,
    )
    prices = Prices(
        lambda_gb_second=0.001,
        lambda_request=1e-6,
        state_transition=0.01,
        express_request=1e-6,
        express_gb_second=0,
        s3_get=0.001,
        s3_put=0.002,
    )
    cost = estimate(usage, input_bytes=2_000_000_000, prices=prices)
    assert (cost.lambda_usd, cost.step_functions_usd, cost.s3_usd) == (2.0, 11.0, 3.0)
    assert cost.total_usd == 16.0 and cost.usd_per_gb == 8.0


def test_a_terabyte_plan_counts_every_billed_unit():
    plan = RunPlan(
        RunConfig(
            max_concurrency=100, max_items_per_batch=20, max_batch_bytes=256 << 20, tolerated_failure_percentage=5
        )
    )
    for i in range(15_625):  # 64 MB Firehose objects
        plan.add(item(f"raw/{i:05d}", 64_000_000))
    cost = plan.cost(processor_memory_mb=1769, reducer_memory_mb=1024)
    assert plan.batches == math.ceil(15_625 / 4)  # 256 MiB of objects a batch
    batches = plan.batches
    processor_seconds = 1e12 / GZIP_BYTES_PER_VCPU_SECOND + batches * 0.3
    assert cost.usage.lambda_gb_seconds == pytest.approx(processor_seconds * 1769 / 1024 + 2.0 * 1024 / 1024)
    # per STANDARD child: the map's transition that starts it and its own task; plus the parent's own
    assert cost.usage.state_transitions == 6 + 2 * batches
    assert cost.usage.express_requests == 0 and cost.usage.lambda_requests == batches + 2
    # each object; the manifest (and when it was written); the result files
    assert cost.usage.s3_gets == 15_625 + 5 + math.ceil(batches / 1000)
    # each object: one PUT per file (all ~44 MB of its Parquet in one, below the single-PUT size) and the
    # quarantine
    assert 64e6 * CURATED_BYTES_PER_STORED_BYTE < CURATED_SINGLE_PUT_BYTES
    per_object = CURATED_FILES_PER_OBJECT + 1
    assert cost.usage.s3_puts == pytest.approx(
        15_625 * per_object + batches + 1 + math.ceil(batches / 1000) + 1 + 4 + 1, abs=2
    )
    assert 3 < cost.total_usd < 8


def test_objects_whose_files_pass_the_single_put_size_are_planned_with_their_parts():
    plan = RunPlan(
        RunConfig(
            max_concurrency=100, max_items_per_batch=20, max_batch_bytes=256 << 20, tolerated_failure_percentage=5
        )
    )
    for i in range(100):  # Firehose's largest buffer: 84 MB of Parquet an object
        plan.add(item(f"raw/{i:05d}", 128_000_000))
    large, small = Throughput(files_per_object=3, curated_ratio=0.66), Throughput(files_per_object=3, curated_ratio=0.1)
    puts = plan.cost(1769, 1024, large).usage.s3_puts - plan.cost(1769, 1024, small).usage.s3_puts  # 12.8 MB: a PUT
    parts_after_the_first = math.ceil((128_000_000 * 0.66 - CURATED_SINGLE_PUT_BYTES) / CURATED_PART_BYTES)
    # the hour that holds the object's bytes: create, the first part, the others, complete (instead of a PUT)
    assert puts == 100 * (2 + 1 + parts_after_the_first - 1)


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
