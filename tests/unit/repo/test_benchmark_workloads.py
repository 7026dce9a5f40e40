"""The benchmarks' ingestion workloads do the real work they claim to measure (no timings asserted)."""

import io
import subprocess
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from benchmarks import batch, cold_start
from benchmarks.__main__ import ROOT, MotoServer
from benchmarks.commit import commit_times
from benchmarks.cost import commit_seconds, terabyte
from benchmarks.ingestion import backfill, manifest_writer, sqs_batch
from benchmarks.reduction import make_results, naive, reducer
from benchmarks.sizes import function_sizes
from benchmarks.speed import bench_core, previous_release, workload
from benchmarks.workloads import INPUT, OUTPUT, client, make_file, small_objects
from landfall.commit.catalog import TableCatalog
from landfall.core.costs import COMMIT_GLUE_REQUESTS, COMMIT_S3_GETS, COMMIT_S3_PUTS, Prices
from landfall.core.layout import CURATED_PREFIX, REPORTS_PREFIX


def test_the_manifest_writer_workload_starts_one_run_from_a_realistic_batch():
    batch = sqs_batch(300)
    assert len(batch["Records"]) == 300
    ours, bare = manifest_writer(batch)  # asserts: no failures, exactly one run started
    assert ours > 0 and bare > 0


def test_the_backfill_workload_writes_one_manifest_line_per_key():
    written = backfill("2500")
    assert 2500 * 150 < written < 2500 * 300  # one JSON line per key


def test_the_reducer_workloads_agree_on_a_generated_run(tmp_path):
    make_results(tmp_path, 300, per_file=120)  # three result files
    assert reducer(str(tmp_path)) > 0  # asserts: SUCCEEDED, every object processed
    assert naive(str(tmp_path)) > 0
    (report,) = tmp_path.glob(f"{REPORTS_PREFIX}*/report.json")
    assert '"processed": 300' in report.read_text()


def test_the_small_object_workload_runs_on_the_benchmarks_own_server():
    with MotoServer() as endpoint:  # moto with its per-request module listing cached
        s3 = client(endpoint)
        s3.create_bucket(Bucket=INPUT)
        s3.create_bucket(Bucket=OUTPUT)
        concurrent, one_by_one = small_objects(endpoint, count=12, latency_s=0.0)  # asserts: all processed
        # the 12 objects' records all fall in one hour: the batch writes one file, its rows all of theirs
        # (the second round, one object at a time, is the same batch: it overwrites that file)
        (file,) = s3.list_objects_v2(Bucket=OUTPUT, Prefix=CURATED_PREFIX)["Contents"]
        assert "/hour=13/" in file["Key"] and "bench-small" in file["Key"]  # the run's, in the hour's partition
        body = s3.get_object(Bucket=OUTPUT, Key=file["Key"])["Body"].read()
        assert pq.ParquetFile(io.BytesIO(body)).metadata.num_rows == 12 * 20
    assert concurrent > 0 and one_by_one > 0


def test_the_previous_release_the_bench_compares_with_wrote_gzip_json_lines():
    with previous_release() as tree:
        if tree is None:  # only a clone without that history cannot give it (the bench then says so)
            shallow = subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],  # noqa: S607
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            assert shallow in ("true", ""), "the release is in this clone's history but could not be read"
            return
        assert "class GzipS3Writer" in (tree / "layers/common/landfall/writers.py").read_text()
        assert (tree / "benchmarks/workloads.py").exists()


def test_a_pinned_workload_reports_the_seconds_it_measured(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    make_file(path, 200_000)
    seconds = workload(ROOT, "core_loop", str(path), core=bench_core())
    assert 0 < seconds < 60


def test_the_terabyte_plan_prices_what_was_measured():
    slow, fast = terabyte(5e6, 0.6, 3, 1e-4), terabyte(10e6, 0.6, 3, 1e-4)
    assert slow["batches"] == fast["batches"] == 3907
    assert slow["cost"]["lambda_usd"] > 1.9 * fast["cost"]["lambda_usd"] - 0.01  # Lambda time follows throughput
    assert slow["cost"]["usage"]["s3_puts"] == fast["cost"]["usage"]["s3_puts"]
    assert slow["reducer_seconds"] == pytest.approx(3907 * 1e-4)  # its time per result, a result a batch
    assert slow["files"] == 3907 * 3  # a file per batch and hour, not per object
    in_parts = terabyte(5e6, 0.6, 3, 1e-4)["curated_puts"]  # 154 MB of Parquet a batch: 64 MiB, then parts
    assert terabyte(5e6, 1.2, 3, 1e-4)["curated_puts"] > in_parts  # 307 MB: more parts
    assert terabyte(5e6, 0.6, 4, 1e-4)["curated_puts"] == in_parts + 3907  # another hour: a PUT a batch


def test_the_previous_releases_files_are_priced_from_the_same_run():
    """The same terabyte with a file per object and hour (a PUT each) and no commit: the figure the
    change is held against, with the same speed, so machine speed does not decide the comparison."""
    now = terabyte(10e6, 0.6, 3, 1e-4, {"1": {"median_s": 0.0}, "100000": {"median_s": 0.0}})
    usage, prices = now["cost"]["usage"], Prices()
    puts = usage["s3_puts"] - now["curated_puts"] - COMMIT_S3_PUTS + 15_625 * 3
    expected = (
        now["cost"]["total_usd"]
        + (puts - usage["s3_puts"]) * prices.s3_put
        - COMMIT_S3_GETS * prices.s3_get
        - usage["glue_requests"] * prices.glue_request
    )
    assert now["before_usd"] == pytest.approx(expected, abs=1e-5)
    assert now["x_before"] == pytest.approx(now["cost"]["total_usd"] / now["before_usd"])


def test_a_commits_time_is_interpolated_between_the_measured_sizes():
    measured = {"1": {"median_s": 0.1}, "1000": {"median_s": 0.2}, "100000": {"median_s": 10.1}}
    assert commit_seconds(measured, 1) == 0.1 and commit_seconds(measured, 1000) == pytest.approx(0.2)
    assert commit_seconds(measured, 50_500) == pytest.approx(5.15)
    assert commit_seconds(measured, 199_000) == pytest.approx(20.0)  # beyond: along the last two
    assert commit_seconds({"10": {"median_s": 0.3}}, 5000) == 0.3


def test_the_terabyte_prices_the_commit_it_was_given():
    files = 3907 * 3
    quick = terabyte(10e6, 0.6, 3, 1e-4, {"1": {"median_s": 0.0}, "100000": {"median_s": 0.0}})
    slow = terabyte(10e6, 0.6, 3, 1e-4, {"1": {"median_s": 0.0}, "100000": {"median_s": 1e5 / files * 100}})
    assert quick["commit_seconds"] == 0 and slow["commit_seconds"] == pytest.approx(100, rel=1e-3)
    extra = slow["cost"]["lambda_usd"] - quick["cost"]["lambda_usd"]
    assert extra == pytest.approx(100 * Prices().lambda_gb_second, abs=1e-5)  # 100 s of the 1 GB reducer
    usage = quick["cost"]["usage"]
    assert usage["glue_requests"] == COMMIT_GLUE_REQUESTS and quick["cost"]["glue_usd"] > 0


def test_the_terabyte_on_arm64_differs_only_in_lambdas_price_per_gb_second():
    measured = terabyte(10e6, 0.6, 3, 1e-4)
    x86, arm = measured["cost"], measured["cost_arm64"]
    assert arm["usage"] == x86["usage"] and arm["s3_usd"] == x86["s3_usd"]
    gb_seconds = x86["usage"]["lambda_gb_seconds"]
    assert round(x86["lambda_usd"] - arm["lambda_usd"], 4) == round(gb_seconds * (0.0000166667 - 0.0000133334), 4)
    assert measured["usd_per_tb"] == {"x86_64": x86["total_usd"], "arm64": arm["total_usd"]}


def test_the_commit_benchmark_commits_each_size_once_per_round():
    with MotoServer() as endpoint:
        timed = commit_times(endpoint, rounds=2, counts=(1, 10))
        keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}  # noqa: S106 - the stand-in's
        glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1", **keys)
        table = TableCatalog(glue, client(endpoint)).load_table("bench.events")
    assert set(timed) == {"1", "10"} and all(0 < t["min_s"] <= t["median_s"] <= t["max_s"] for t in timed.values())
    assert [s.summary["added-data-files"] for s in table.metadata.snapshots] == ["1", "1", "10", "10"]
    # what the plan prices a commit with: the same whatever its files, on a table with snapshots
    priced = {"s3_gets": COMMIT_S3_GETS, "s3_puts": COMMIT_S3_PUTS, "glue": COMMIT_GLUE_REQUESTS}
    assert timed["1"]["requests"] == timed["10"]["requests"] == priced


def test_the_batch_workload_counts_the_files_the_processor_writes(tmp_path):
    """Two consecutive objects arrived at 13:35 and 13:40: their records fall in hour 13, and late ones
    (up to two hours) in 11 and 12; the processor writes a file per hour, each below a single PUT."""
    with MotoServer() as endpoint:
        s3 = client(endpoint)
        s3.create_bucket(Bucket=INPUT)
        s3.create_bucket(Bucket=OUTPUT)
        keys = batch.upload(endpoint, tmp_path, objects=2, object_bytes=300_000)
        measured = batch.process(endpoint, *keys)
        written = s3.list_objects_v2(Bucket=OUTPUT, Prefix=CURATED_PREFIX)["Contents"]
    assert all(300_000 <= size < 800_000 for size in measured["object_bytes"])  # a block of lines past it at most
    assert (
        [f["partition"] for f in measured["files"]]
        == measured["hours"]
        == [f"dt=2026-11-22/hour={hour}" for hour in (11, 12, 13)]
    )
    assert sorted(f["Size"] for f in written) == sorted(f["bytes"] for f in measured["files"])
    figures = batch.figures(measured)
    assert figures["files_per_batch"] == 3 and figures["file_puts"] == figures["planned_file_puts"] == 3
    assert figures["half_bytes_in_files_of_mb"] == max(figures["file_mb"])  # hour 13 holds most rows
    assert figures["median_file_mb"] < figures["half_bytes_in_files_of_mb"]
    assert figures["quarantine_puts"] == 2  # each object's bad lines: its own quarantine


def test_half_the_bytes_are_in_files_at_least_the_size_of_the_one_holding_the_median_byte():
    assert batch.half_bytes_in_files_of([170, 1, 1]) == 170
    assert batch.half_bytes_in_files_of([40, 30, 20, 10]) == 30


def test_function_sizes_add_each_functions_layers(tmp_path):
    build = tmp_path / "build"
    for folder, size in (("ReducerFunction", 10), ("CommonLayer", 1000), ("IcebergLayer", 300)):
        (build / folder).mkdir(parents=True)
        (build / folder / "f").write_bytes(b"x" * size)
    (build / "template.yaml").write_text(
        "Parameters:\n  Architecture:\n    Type: String\n    Default: x86_64\n"
        "Conditions:\n  OnArm64: !Equals [!Ref Architecture, arm64]\n"
        "Globals:\n  Function:\n    Layers:\n      - !If [OnArm64, !Ref CommonLayerArm64, !Ref CommonLayer]\n"
        "Resources:\n  ReducerFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Layers:\n        - !If [OnArm64, !Ref IcebergLayerArm64, !Ref IcebergLayer]\n"
    )
    assert function_sizes(build) == {"ReducerFunction": {"code": 10, "layers": 1300, "total": 1310}}


def test_cold_starts_import_each_function_with_its_own_layers_and_environment(tmp_path):
    """The reducer's environment names the database the stack-name resource gives; its layers include the
    table stage's, the processor's do not."""
    reducer = cold_start.layer_paths(tmp_path, "ReducerFunction")
    assert [Path(p).parent.name for p in reducer] == ["IcebergLayer", "JobLayer", "CommonLayer"]
    assert [Path(p).parent.name for p in cold_start.layer_paths(tmp_path, "ProcessorFunction")] == [
        "JobLayer",
        "CommonLayer",
    ]
    assert cold_start.environment("ReducerFunction", tmp_path)["DATABASE"] == "landfall_local"


def test_a_terabyte_of_small_files_is_priced_from_the_measured_speed_beside_s3_tables():
    from benchmarks import compaction

    slow = compaction.terabyte({"bytes_in": 10e6, "seconds": 1.0}, small_file_bytes=1e6)
    fast = compaction.terabyte({"bytes_in": 20e6, "seconds": 1.0}, small_file_bytes=1e6)
    assert slow["small_files"] == 1e6 and slow["lambda_usd"] > 1.9 * fast["lambda_usd"]  # Lambda time follows speed
    assert slow["s3_usd"] == fast["s3_usd"] and slow["s3_usd"] >= 1e6 * Prices().s3_get  # a GET per small file
    assert slow["s3_tables_usd"] == pytest.approx(1000 * 0.005 + 1e6 / 1000 * 0.002)  # binpack's list prices


def test_a_target_whose_small_share_passes_the_batch_files_prices_them_compacted_again():
    from benchmarks import compaction

    figures = compaction.by_target([172.8, 0.8, 0.3], batches=1000, pipeline_usd=3.0, usd_per_tb=4.0)
    assert list(figures) == ["64", "128", "256", "512"]
    assert figures["128"]["small_bytes_per_tb"] == pytest.approx(1.1e9)  # 96 MiB: the batch's large file stays
    assert figures["256"]["small_bytes_per_tb"] == pytest.approx(173.9e9)  # 192 MiB: it is small too
    assert figures["128"]["pipeline_usd"] == pytest.approx(3.0 + 4.0 * 1.1e9 / 1e12)
