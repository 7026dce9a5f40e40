"""`make rehearsal`: one run of many small objects on the emulator, as a backfill starts it, to show how
time and memory grow with the work: the manifest (`landfall backfill --local` as a user runs it: its
wall time, listing included, and its process's peak RSS), the map (every batch processed), and the
reducer (its invocation's wall time and its execution environment's peak memory, as Lambda's Max
Memory Used). Time should grow linearly with the objects, memory not at all. Kept out of `make test`:
100,000 objects take about 15 minutes here.

    make rehearsal                      # 10,000 then 100,000 objects
    make rehearsal ARGS="20000"
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from moto.s3.models import s3_backends

from benchmarks import ROOT, TEMPLATE_PATH
from landfall.core.layout import report_key
from landfall.core.observability import logger
from landfall_cli.target import local_target, write_local_state
from landfall_emulator.emulator import Emulator, wait_for

EVENT = '{"event_id":"e-%d-%d","ts":"2026-11-22T13:%02d:00Z","type":"click","value":1.5}'


def _body(number: int, records: int) -> bytes:
    return gzip.compress("\n".join(EVENT % (number, n, n % 60) for n in range(records)).encode() + b"\n")


def _land(emulator: Emulator, objects: int, records: int) -> None:
    """Objects under raw/ with the landing bucket's notifications off: only the backfill starts a run.
    Stored through moto's backend, in this process: landing is not what is measured, and 100,000 PUTs
    through the server took 12 minutes."""
    emulator.client("s3").put_bucket_notification_configuration(
        Bucket=emulator.landing_bucket, NotificationConfiguration={}
    )
    backend = s3_backends[emulator.stack.account_id]["global"]
    for number in range(objects):
        backend.put_object(
            emulator.landing_bucket, f"raw/2026/11/22/13/rehearsal-{number:07d}.gz", _body(number, records)
        )


# `landfall backfill`, then its own peak RSS (VmHWM: ru_maxrss may carry the parent's peak over fork)
BACKFILL = """
import re, sys
from landfall_cli.main import main
try:
    code = main(sys.argv[1:])
finally:
    peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
    print(f"peak_rss_kb {peak}", file=sys.stderr)
sys.exit(code)
"""


def _backfill(state: Path, objects: int) -> tuple[str, int, float, float]:
    """`landfall backfill --local` in its own process: (the run's id, its batches, seconds, peak RSS in MB)."""
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own command
        [sys.executable, "-c", BACKFILL, "backfill", "--local", "--objects-per-run", str(objects)],
        env={**os.environ, "LANDFALL_LOCAL_STATE": str(state), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    seconds = time.monotonic() - started
    if done.returncode:
        raise RuntimeError(f"landfall backfill failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    run_id = re.search(r"started (\S+) →", done.stdout)
    batches = re.search(r"batches = child executions\W+([\d,]+)", done.stdout)
    peak = re.search(r"peak_rss_kb (\d+)", done.stderr)
    assert run_id and batches and peak, done.stdout + done.stderr
    return run_id.group(1), int(batches.group(1).replace(",", "")), seconds, int(peak.group(1)) / 1024


def rehearse(objects: int, records: int = 10) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Emulator(
            template=TEMPLATE_PATH, parameter_overrides={"IngestBatchingWindowSeconds": "1"}, log_dir=Path(tmp) / "logs"
        ) as emulator,
    ):
        _land(emulator, objects, records)
        state = Path(tmp) / "local.json"
        write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
        target = local_target(state)
        started = time.monotonic()
        run_id, batches, manifest_s, manifest_peak_mb = _backfill(state, objects)
        s3 = emulator.client("s3")

        def reported() -> bool:
            return bool(s3.list_objects_v2(Bucket=target.pipeline_bucket, Prefix=report_key(run_id))["KeyCount"])

        wait_for(reported, 6 * 3600, f"run {run_id}'s report", interval=1)
        total_s = time.monotonic() - started
        report = json.loads(s3.get_object(Bucket=target.pipeline_bucket, Key=report_key(run_id))["Body"].read())
        reducer = emulator.function_name("ReducerFunction")
        reducer_s = sum(emulator.lambdas.seconds.get(reducer, []))
        return {
            "objects": objects,
            "batches": batches,
            "status": report["status"],
            "reconciled": report["reconciliation"]["ok"],
            "processed": report["objects"]["processed"],
            "manifest_s": manifest_s,
            "manifest_peak_rss_mb": manifest_peak_mb,
            "map_s": total_s - manifest_s - reducer_s,
            "reducer_s": reducer_s,
            "reducer_peak_rss_mb": emulator.lambdas.peak_rss_mb(reducer),
        }


def main() -> None:
    logging.getLogger(logger.name).setLevel(logging.WARNING)  # the backfill's JSON log lines are the functions'
    parser = argparse.ArgumentParser(prog="make rehearsal")
    parser.add_argument("objects", type=int, nargs="*", default=[10_000, 100_000], help="objects of each run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "rehearsal.json")
    args = parser.parse_args()
    results = []
    for objects in args.objects:
        print(f"rehearsal: {objects:,} objects in one run", file=sys.stderr, flush=True)
        results.append(rehearse(objects))
        done = results[-1]
        print(
            f"{done['objects']:>9,} objects, {done['batches']:,} batches: {done['status']}, reconciled "
            f"{done['reconciled']}; manifest {done['manifest_s']:.1f} s (landfall backfill's peak RSS "
            f"{done['manifest_peak_rss_mb']:.0f} MB), map {done['map_s']:.0f} s, reducer {done['reducer_s']:.1f} s "
            f"(peak RSS {done['reducer_peak_rss_mb']:.0f} MB)",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
