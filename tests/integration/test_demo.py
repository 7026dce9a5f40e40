"""`landfall demo` as a user runs it: its own process, its own emulator."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyiceberg.table import StaticTable

from landfall.commit.commits import run_snapshot
from landfall.core.layout import CURATED_PREFIX, QUARANTINE_PREFIX, REPORTS_PREFIX
from landfall.jobs.events import EventsJob
from landfall.jobs.samples import make_dataset
from landfall_emulator.emulator import wait_for

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def landfall(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "landfall_cli.main", *args],
        env={**os.environ, "COLUMNS": "250"},  # no wrapped lines to search
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def demo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    if "--data" not in args:  # the table's copy goes to a folder of the test's, not the working directory
        args = (*args, "--data", tempfile.mkdtemp(prefix="landfall-demo-data-"))
    return landfall("demo", *args, timeout=timeout)


def test_the_demo_runs_the_pipeline_and_reports_that_everything_reconciles():
    result = demo(
        "--objects", "6", "--records", "200", "--bad-ratio", "0.05", "--batch-size", "2", "--concurrency", "2",
        "--compact",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every object and every record is accounted for" in result.stdout
    assert "1,200" in result.stdout  # records in
    # the summary shows each of the default job's quality rules with its value (none breached: exit 0)
    rules = result.stdout.split("events: quality rules over the last", 1)[1].split("└", 1)[0]
    for rule in EventsJob.quality:
        (row,) = [line for line in rules.splitlines() if f"│ {rule.label} " in line]
        assert re.search(r"│\s+[\d,.]+ │$", row.rstrip()), row
    # --compact: three batches wrote a file per hour each; the upkeep makes each hour one file
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("upkeep-demo-")]
    compacted = re.search(r"SUCCEEDED — (\d+) partitions compacted \((\d+) files → (\d+)\)", line)
    assert compacted is not None, line
    partitions, before, after = map(int, compacted.groups())
    assert partitions >= 1 and before >= 2 * partitions and after == partitions


def test_the_demo_lands_a_users_files_and_saves_the_outputs(tmp_path: Path):
    source = tmp_path / "firehose"
    dataset = make_dataset(objects=3, records=50, bad_ratio=0.1, seed=3)
    for obj in dataset.objects:
        path = source / obj.key.removeprefix("raw/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(obj.body)
    out = tmp_path / "out"
    data = tmp_path / "data"
    result = demo("--source", str(source), "--out", str(out), "--data", str(data), "--max-rejected-percentage", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    (report_path,) = out.glob(f"{REPORTS_PREFIX}*/report.json")
    report = json.loads(report_path.read_text())
    assert report["records"]["read"] == dataset.records
    assert report["records"]["rejected"] == dataset.bad
    curated = sum(pq.read_metadata(p).num_rows for p in out.glob(f"{CURATED_PREFIX}**/*.parquet"))
    assert curated == report["records"]["written"] == dataset.records - dataset.bad
    # the saved table is an Iceberg table of its own: pyiceberg opens it from its metadata file, no bucket
    metadata = out / CURATED_PREFIX / "events" / "metadata" / "v1.metadata.json"
    assert f"Iceberg copy: {metadata} (open it with any Iceberg reader)" in result.stdout
    assert "s3://" not in metadata.read_text()
    saved = StaticTable.from_metadata(str(metadata))
    assert saved.scan().to_arrow().num_rows == report["records"]["valid"]
    assert run_snapshot(saved, report["run_id"]) is not None  # the run's snapshot, with its summary
    quarantined = sum(len(p.read_text().splitlines()) for p in out.glob(f"{QUARANTINE_PREFIX}**/*.jsonl"))
    assert quarantined == dataset.bad
    assert "top type-hours in events_unique" in result.stdout  # the demo's DuckDB query of the table
    counted = landfall("query", "--local", "--data", str(data), "SELECT count(*) AS n FROM events", timeout=60)
    assert counted.returncode == 0 and f"│ {dataset.records - dataset.bad} " in counted.stdout, counted.stdout
    rejected = landfall("query", "--local", "--data", str(data), "SELECT count(*) FROM quarantine", timeout=60)
    assert f"│ {dataset.bad} " in rejected.stdout, rejected.stdout


def test_the_demo_fails_when_the_source_is_empty(tmp_path: Path):
    result = demo("--source", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == f"landfall demo: --source {tmp_path} holds no files\n" and not result.stdout


def test_settings_the_template_refuses_are_refused_before_anything_starts():
    result = demo("--batch-size", "0", timeout=60)
    assert result.returncode == 2
    assert result.stderr == "landfall demo: --batch-size (MaxItemsPerBatch): 0 is below its minimum 1\n"
    assert "emulator on" not in result.stdout


def test_the_demo_fails_and_says_why_when_objects_fail_beyond_the_tolerance(tmp_path: Path):
    (tmp_path / "good.gz").write_bytes(make_dataset(objects=1, records=20, seed=5).objects[0].body)
    (tmp_path / "corrupt.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:-30])
    result = demo("--source", str(tmp_path), "--tolerated-failure-percentage", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "raw/corrupt.gz" in result.stdout and "truncated gzip stream" in result.stdout
    assert "1 of 2 objects failed" in result.stdout


def test_the_kept_emulator_serves_the_local_commands_then_stops_by_itself(tmp_path: Path):
    state = tmp_path / "local.json"
    env = {**os.environ, "COLUMNS": "250", "LANDFALL_LOCAL_STATE": str(state)}
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "landfall_cli.main",
            "demo",
            "--objects",
            "2",
            "--records",
            "20",
            "--keep",
            "0.2",
            "--data",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def serving() -> bool:
            assert process.poll() is None, "the demo ended without serving"
            return state.exists()

        wait_for(serving, 240, "the demo's emulator to serve", interval=0.5)
        command = [sys.executable, "-m", "landfall_cli.main"]
        plan = subprocess.run(
            [*command, "backfill", "--local", "--dry-run"], env=env, capture_output=True, text=True, timeout=60
        )  # noqa: S603
        assert plan.returncode == 0, plan.stdout + plan.stderr
        # the demo's objects are in its table: a backfill of them plans nothing
        assert "nothing to process" in plan.stdout and "2 already in the table" in plan.stdout
        assert process.wait(timeout=120) == 0  # it stops by itself after --keep minutes
    finally:
        if process.poll() is None:
            process.kill()
    assert not state.exists()
