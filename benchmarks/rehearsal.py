"""`make rehearsal`: one run of many small objects on the emulator, as a backfill starts it, to show how
time and memory grow with the work: the manifest (listing and writing it, with the run's start), the
map (every batch processed), and the reducer (its invocation's wall time and its execution
environment's peak memory, as Lambda's Max Memory Used). Time should grow linearly with the objects,
memory not at all. Kept out of `make test`: 100,000 objects take about 30 minutes here.

    make rehearsal                      # 10,000 then 100,000 objects
    make rehearsal ARGS="20000"
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from landfall.layout import report_key
from landfall.observability import logger
from landfall_cli.backfill import Backfill, list_items
from landfall_cli.local.emulator import Emulator, wait_for
from landfall_cli.target import local_target, write_local_state

EVENT = '{"event_id":"e-%d-%d","ts":"2026-11-22T13:%02d:00Z","type":"click","value":1.5}'


def _body(number: int, records: int) -> bytes:
    return gzip.compress("\n".join(EVENT % (number, n, n % 60) for n in range(records)).encode() + b"\n")


def _land(emulator: Emulator, objects: int, records: int) -> None:
    """Objects under raw/ with the landing bucket's notifications off: only the backfill starts a run."""
    s3 = emulator.client("s3")
    s3.put_bucket_notification_configuration(Bucket=emulator.landing_bucket, NotificationConfiguration={})
    key = "raw/2026/11/22/13/rehearsal-{:07d}.gz"
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=emulator.landing_bucket, Key=key.format(n),
                                              Body=_body(n, records)), range(objects)))  # fmt: skip


def rehearse(objects: int, records: int = 10) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Emulator(parameter_overrides={"IngestBatchingWindowSeconds": "1"}, log_dir=Path(tmp) / "logs") as emulator,
    ):
        _land(emulator, objects, records)
        state = Path(tmp) / "local.json"
        write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
        target = local_target(state)
        settings = target.settings
        tracemalloc.start()
        started = time.monotonic()
        backfill = Backfill(target.starter(), settings.key_prefix, settings.key_suffix, objects_per_run=objects)
        (planned,) = backfill.run(list_items(target.s3, target.landing_bucket, [settings.key_prefix]))
        manifest_s, manifest_peak = time.monotonic() - started, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert planned.started is not None
        run_id = planned.started.run_id
        s3 = emulator.client("s3")

        def reported() -> bool:
            return bool(s3.list_objects_v2(Bucket=target.pipeline_bucket, Prefix=report_key(run_id))["KeyCount"])

        wait_for(reported, 6 * 3600, f"run {run_id}'s report", interval=1)
        total_s = time.monotonic() - started
        report = json.loads(s3.get_object(Bucket=target.pipeline_bucket, Key=report_key(run_id))["Body"].read())
        reducer = emulator.function_name("ReducerFunction")
        reducer_s = sum(emulator.lambdas.seconds.get(reducer, []))
        return {
            "objects": objects, "batches": planned.plan.batches, "status": report["status"],
            "reconciled": report["reconciliation"]["ok"], "processed": report["objects"]["processed"],
            "manifest_s": manifest_s, "manifest_peak_mb": manifest_peak / 2**20,
            "map_s": total_s - manifest_s - reducer_s, "reducer_s": reducer_s,
            "reducer_peak_rss_mb": emulator.lambdas.peak_rss_mb(reducer),
        }  # fmt: skip


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
        print(f"{done['objects']:>9,} objects, {done['batches']:,} batches: {done['status']}, reconciled "
              f"{done['reconciled']}; manifest {done['manifest_s']:.1f} s (peak {done['manifest_peak_mb']:.1f} MB "
              f"traced), map {done['map_s']:.0f} s, reducer {done['reducer_s']:.1f} s (peak RSS "
              f"{done['reducer_peak_rss_mb']:.0f} MB)", flush=True)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
