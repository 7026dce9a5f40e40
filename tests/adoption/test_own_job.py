"""A job of one's own, deployed from its own folder: a checkout whose `jobs/` holds the orders example,
the template as it is, `Job=orders_job:OrdersJob`. `sam build` ships the job in the JobLayer, and the
emulator runs it: the run's table is `orders` and its report has revenue."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from landfall.core.layout import report_key, run_data_prefix
from landfall_emulator.emulator import Emulator
from tests.paths import REPO_ROOT, TEMPLATE_PATH

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

ORDERS = [
    b'{"order_id":"o-1","ts":"2026-11-22T13:05:00Z","amount":12.5,"currency":"EUR"}',
    b'{"order_id":"o-2","ts":"2026-11-23T00:10:00Z","amount":7.5,"currency":"EUR"}',
    b'{"order_id":"o-3","ts":"2026-11-22T18:00:00Z","amount":-1,"currency":"USD"}',
    b'{"order_id":"o-4","ts":"2026-11-22T19:00:00+01:00","amount":3,"currency":"USD"}',
    b'{"order_id":"o-5","ts":"2026-11-22T19:30:00Z","amount":',
]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as a user has it after adding a job: `jobs/` holds `orders_job.py`, the template is
    unchanged, and the rest is the repository's own (linked, not copied)."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy(TEMPLATE_PATH, root / "template.yaml")  # a copy: its folder is the checkout's
    for name in ("functions", "statemachine", "layers"):
        (root / name).symlink_to(REPO_ROOT / name)
    shutil.copytree(REPO_ROOT / "jobs", root / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "examples" / "orders_job.py", root / "jobs")
    return root


def test_sam_build_ships_the_job_in_the_job_layer(checkout: Path):
    """The JobLayer alone (the rest is built as always): the folder's modules under python/, as Lambda
    puts a layer's python/ on the path, and none of the build's own files."""
    build_dir = checkout / ".aws-sam" / "build"
    done = subprocess.run(  # noqa: S603
        [Path(sys.executable).with_name("sam"), "build", "JobLayer", "--build-dir", str(build_dir)],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shipped = {path.relative_to(build_dir / "JobLayer").as_posix() for path in (build_dir / "JobLayer").rglob("*")}
    assert shipped == {"python", "python/README.md", "python/orders_job.py"}
    assert (build_dir / "JobLayer" / "python" / "orders_job.py").read_bytes() == (
        REPO_ROOT / "examples" / "orders_job.py"
    ).read_bytes()


@pytest.fixture(scope="module")
def deployed(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The checkout's stack with the orders job: an emulator of its own (the package's is not running)."""
    overrides = {
        "Job": "orders_job:OrdersJob",
        "IngestBatchSize": "1000",
        "IngestBatchingWindowSeconds": "1",
        "MaxItemsPerBatch": "2",
    }
    logs = tmp_path_factory.mktemp("function-logs")
    with Emulator(template=checkout / "template.yaml", parameter_overrides=overrides, log_dir=logs) as running:
        yield running


def test_the_emulator_runs_the_job_from_its_folder(deployed: Emulator):
    s3 = deployed.client("s3")
    before = {e["name"] for e in deployed.executions()}
    bodies = {"a": b"\n".join(ORDERS[:3]) + b"\n", "b": b"\n".join(ORDERS[3:]) + b"\n"}
    for name, body in bodies.items():
        key = f"raw/2026/11/22/13/orders-1-2026-11-22-13-00-00-{name}.gz"
        s3.put_object(Bucket=deployed.landing_bucket, Key=key, Body=gzip.compress(body))
    deployed.wait_for_ingestion(len(bodies), timeout=120)
    (execution,) = [e for e in deployed.executions() if e["name"] not in before]
    described = deployed.wait_for_execution(execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")

    body = s3.get_object(Bucket=deployed.pipeline_bucket, Key=report_key(execution["name"]))["Body"].read()
    report = json.loads(body)
    assert report["job"] == "orders" and report["reconciliation"]["ok"]
    assert report["records"]["valid"] == 3
    assert report["records"]["rejected_by_reason"] == {"schema": 1, "invalid_json": 1}
    assert report["aggregates"] == {
        "revenue": {"EUR": 20.0, "USD": 3.0},
        "orders_per_day": {"2026-11-22": 2, "2026-11-23": 1},
    }
    assert [table["title"] for table in report["aggregate_tables"]] == ["Revenue per currency", "Orders per UTC day"]
    prefix = run_data_prefix("orders", execution["name"])
    listed = s3.list_objects_v2(Bucket=deployed.pipeline_bucket, Prefix=prefix)["Contents"]
    assert {o["Key"].removeprefix(prefix).split("/")[0] for o in listed} == {"dt=2026-11-22", "dt=2026-11-23"}
    assert deployed.stack.outputs()["TableName"] == "orders"  # the catalog made the job's table
    # the run's one commit, to the job's Iceberg table, partitioned by day(ts)
    assert (report["table"]["table"], report["table"]["files"], report["table"]["rows"]) == ("orders", 2, 3)
    entry = deployed.client("glue").get_table(DatabaseName=deployed.stack.outputs()["DatabaseName"], Name="orders")
    assert entry["Table"]["Parameters"]["metadata_location"] == report["table"]["metadata_location"]
