"""`make rehearsal` runs: one backfilled run of many objects completes, reconciles and is measured."""

import json
import subprocess
import sys

import pytest

from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def test_a_rehearsal_run_completes_reconciles_and_reports_its_phases(tmp_path):
    out = tmp_path / "rehearsal.json"
    done = subprocess.run(  # noqa: S603 - its own emulator: one per process
        [sys.executable, "-m", "benchmarks.rehearsal", "120", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = json.loads(out.read_text())
    assert (run["objects"], run["batches"], run["status"], run["reconciled"], run["processed"]) == (
        120,
        6,
        "SUCCEEDED",
        True,
        120,
    )  # 20 objects a batch (MaxItemsPerBatch)
    assert run["manifest_s"] > 0 and run["map_s"] > 0 and run["reducer_s"] > 0
    assert run["manifest_peak_rss_mb"] > 30 and run["reducer_peak_rss_mb"] > 50  # a process each: the runtime at least
