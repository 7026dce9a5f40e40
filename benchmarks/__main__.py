"""`make bench`: the processor's speed and memory as ratios measured in one run on the same data.

Every figure compares runs made here on the same generated file (realistic events, ~0.1 % bad lines),
so the ratios hold whatever the machine's speed (`benchmarks/speed.py` pins and interleaves them):

- core loop (decompress + frame + decode + validate + aggregate) vs `zcat FILE | wc -l`
- the whole processor through S3 (a moto server on 127.0.0.1, Parquet written) vs `zcat | wc -l`, and
  the previous release's (gzip JSON lines written) in the same rounds; curated bytes per input byte
- a batch at the defaults (4 objects of 64 MB) through the processor: the table's files it writes, their
  sizes and PUTs (`benchmarks/batch.py`)
- what 1 TB costs, planned from those measurements and the commit's (`benchmarks/cost.py`)
- the common approach (whole get_object read + json.loads per line + a pydantic model) vs ours
- peak RSS of the processor at 256 MiB and 1 GiB of input (flat) and of the common approach (grows)
- 500 small objects with 20 ms added S3 latency: concurrent fetches vs one by one
- the manifest writer's own work on a batch of 10,000 notifications, beside `json.loads` of the bodies
- peak RSS of a backfill of 10,000 and of 100,000 listed keys (flat)
- the reducer on 100,000 result records vs a naive `json.load` of every result file, and the peak RSS
  of both at 10,000 and 100,000 records
- a run's Iceberg commit of 1, 1,000 and 100,000 files, and each function's unzipped size with its
  layers beside Lambda's 250 MB
- the table's upkeep compacting an hour of 30 and of 120 small files (peak RSS flat), beside a naive
  in-memory rewrite, and what compacting a terabyte's small files costs, beside S3 Tables' price

Writes a table to stdout and `benchmarks/results/latest.json`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import (
    ROOT,
    aims,
    batch,
    cold_start,
    commit,
    compaction,
    cost,
    ingestion,
    reduction,
    sizes,
    speed,
    workloads,
)
from landfall.core.layout import CURATED_PREFIX

Row = tuple[str, str, str]  # what is measured, the figure, beside what


def _median(run: Callable[[], float], rounds: int) -> float:
    return statistics.median(run() for _ in range(rounds))


class MotoServer:
    """A moto server in its own process on 127.0.0.1, so that it does not share our GIL; the
    emulator's, with the per-request work that serves no request taken off (see moto_compat)."""

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "landfall_emulator.moto_compat", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return endpoint
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("the moto server did not start")

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)


# What Lambda sets: with it the X-Ray SDK (imported by the Powertools Tracer) takes its Lambda path
# and the Tracer patches botocore, as deployed; elsewhere the SDK builds a botocore session and a
# client for central sampling at import (~15 MB) that a function never has.
LAMBDA_ENVIRONMENT = {"LAMBDA_TASK_ROOT": str(ROOT)}


def _in_subprocess(function: str, *args: str, module: str = "workloads", in_lambda: bool = True) -> dict[str, Any]:
    """Run `<module>.<function>(*args)` in a fresh interpreter (with Lambda's environment when
    `in_lambda`); its result and its peak RSS."""
    # VmHWM is this process's own peak; ru_maxrss may carry the parent's peak over fork and exec
    code = (
        f"import json, re, sys; from benchmarks import {module}; "
        f"result = {module}.{function}(*sys.argv[1:]); "
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); "
        "print(json.dumps({'result': result, 'max_rss_mb': peak / 1024}))"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, **(LAMBDA_ENVIRONMENT if in_lambda else {})},
    )
    if done.returncode:
        raise RuntimeError(f"{function}{args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratio_text(ratio: tuple[float, float, float], of: str) -> str:
    median, low, high = ratio
    return f"{median:.2f}× {of} ({low:.2f}–{high:.2f})"


def _measure(path: Path, endpoint: str, rounds: int, core: int) -> dict[str, speed.Timings]:
    """zcat | wc -l, the core loop, the processor through S3, and the previous release's processor
    (gzip JSON lines), each pinned to `core`, rounds interleaved."""
    names = ("zcat", "core", "duckdb", "parquet", "inline", "no_rules", "json_lines")
    measured = {name: speed.Timings() for name in names}
    key = "events.jsonl.gz"
    with speed.previous_release() as previous:
        for number in range(1, rounds + 1):
            progress(
                f"speed, round {number} of {rounds}: zcat | wc -l, core loop, DuckDB, processor ± threads ± rules"
                + (", the previous release" if previous is not None else "")
            )
            measured["zcat"].seconds.append(speed.zcat_wc(path, core))
            measured["core"].seconds.append(speed.workload(ROOT, "core_loop", str(path), core=core))
            measured["duckdb"].seconds.append(speed.workload(ROOT, "duckdb_lenient", str(path), core=core))
            measured["parquet"].seconds.append(speed.workload(ROOT, "handler", endpoint, key, core=core))
            measured["inline"].seconds.append(speed.workload(ROOT, "handler", endpoint, key, "off", core=core))
            no_rules = speed.workload(ROOT, "handler", endpoint, key, "on", "off", core=core)
            measured["no_rules"].seconds.append(no_rules)
            if previous is not None:
                measured["json_lines"].seconds.append(speed.workload(previous, "handler", endpoint, key, core=core))
    return measured


def _speed(path: Path, endpoint: str, size: int, rounds: int) -> tuple[dict[str, Any], list[Row]]:
    core, mb = speed.bench_core(), size / 1e6
    measured = _measure(path, endpoint, rounds, core)
    zcat, parquet, lines = measured["zcat"], measured["parquet"], measured["json_lines"]
    s3 = workloads.client(endpoint)
    stored = s3.head_object(Bucket=workloads.INPUT, Key="events.jsonl.gz")["ContentLength"]
    parquet_bytes = speed.output_bytes(s3, workloads.OUTPUT, CURATED_PREFIX, ".parquet")
    files = speed.output_files(s3, workloads.OUTPUT, CURATED_PREFIX, ".parquet")
    results: dict[str, Any] = {
        "core": core,
        "zcat_wc_s": zcat.median,
        "core_loop_s": measured["core"].median,
        "handler_s": parquet.median,
        "core_loop_x_zcat": zcat.median / measured["core"].median,
        "handler_x_zcat": zcat.median / parquet.median,
        "duckdb_s": measured["duckdb"].median,
        "core_loop_x_duckdb": measured["duckdb"].median / measured["core"].median,
        "handler_x_core_loop": measured["core"].median / parquet.median,
        "handler_inline_s": measured["inline"].median,
        "threads_x_inline": measured["inline"].median / parquet.median,
        "handler_without_rules_s": measured["no_rules"].median,
        "quality_rules_x": measured["no_rules"].median / parquet.median,  # throughput with the rules vs without
        "stored_bytes": stored,
        "parquet_bytes_per_input_byte": parquet_bytes / stored,
        "parquet_files_per_object": files,  # the file alone, a batch of its own
    }
    rows = _speed_rows(measured, mb, core)
    if lines.seconds:
        json_bytes = speed.output_bytes(s3, workloads.OUTPUT, CURATED_PREFIX, ".jsonl.gz")
        results |= {
            "json_lines_handler_s": lines.median,
            "json_lines_x_zcat": zcat.median / lines.median,
            "parquet_x_json_lines": lines.median / parquet.median,
            "json_lines_bytes_per_input_byte": json_bytes / stored,
            "parquet_bytes_x_json_lines": parquet_bytes / json_bytes,
        }
        rows += _comparison_rows(mb, zcat, parquet, lines, (parquet_bytes, json_bytes, stored))
    else:
        rows.append(("previous release (gzip JSON lines)", "", "not measured: git cannot give it here"))
    return results, rows


def _speed_rows(measured: dict[str, speed.Timings], mb: float, core: int) -> list[Row]:
    zcat, parquet, core_loop = measured["zcat"], measured["parquet"], measured["core"]
    return [
        (f"zcat FILE | wc -l (reference, core {core})", f"{mb / zcat.median:.0f} MB/s", "1.00×"),
        ("core loop", f"{mb / core_loop.median:.0f} MB/s", _ratio_text(core_loop.ratio(zcat), "zcat|wc")),
        (
            "DuckDB read_json, lenient, 1 thread (names no bad line)",
            f"{mb / measured['duckdb'].median:.0f} MB/s",
            _ratio_text(measured["duckdb"].ratio(zcat), "zcat|wc"),
        ),
        ("core loop vs DuckDB lenient", "", _ratio_text(core_loop.ratio(measured["duckdb"]), "DuckDB")),
        (
            "processor via S3, Parquet output",
            f"{mb / parquet.median:.0f} MB/s",
            _ratio_text(parquet.ratio(zcat), "zcat|wc") + "; " + _ratio_text(parquet.ratio(core_loop), "its core loop"),
        ),
        (
            "the same without read-ahead and upload threads",
            f"{mb / measured['inline'].median:.0f} MB/s",
            "threads: " + _ratio_text(parquet.ratio(measured["inline"]), "inline"),
        ),
        (
            "the same without the default job's quality rules",
            f"{mb / measured['no_rules'].median:.0f} MB/s",
            "with the rules: " + _ratio_text(parquet.ratio(measured["no_rules"]), "without"),
        ),
    ]


def _comparison_rows(
    mb: float, zcat: speed.Timings, parquet: speed.Timings, lines: speed.Timings, sizes: tuple[int, int, int]
) -> list[Row]:
    parquet_bytes, json_bytes, stored = sizes
    return [
        (
            f"previous release via S3, gzip JSON lines ({speed.JSON_LINES_RELEASE})",
            f"{mb / lines.median:.0f} MB/s",
            _ratio_text(lines.ratio(zcat), "zcat|wc"),
        ),
        ("Parquet output vs gzip JSON lines, speed", "", _ratio_text(parquet.ratio(lines), "")),
        (
            "curated bytes per input (gzip) byte",
            f"{parquet_bytes / stored:.2f}",
            f"gzip JSON lines {json_bytes / stored:.2f}: Parquet is {100 * parquet_bytes / json_bytes:.0f} %",
        ),
    ]


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """A line on stderr per step, so that minutes of measuring are never silent."""
    elapsed = int(time.monotonic() - _STARTED)
    print(f"bench {elapsed // 60:2d}:{elapsed % 60:02d}  {message}", file=sys.stderr, flush=True)


def _memory(endpoint: str, work: Path, sizes: list[int]) -> tuple[dict[str, Any], list[Row]]:
    memory: dict[str, Any] = {}
    rows: list[Row] = []
    for mib in sizes:
        progress(f"memory: the processor on {mib} MiB of input")
        key = f"input_{mib}mib.jsonl.gz"
        big = work / key
        workloads.make_file(big, mib * 1024 * 1024)
        workloads.upload(endpoint, big, key)
        big.unlink()
        ours = _in_subprocess("handler", endpoint, key)
        memory[f"processor_{mib}mib_rss_mb"] = round(ours["max_rss_mb"], 1)
        rows.append((f"peak RSS, processor, {mib} MiB in", f"{ours['max_rss_mb']:.0f} MB", ""))
        if mib == sizes[0]:
            theirs = _in_subprocess("common_approach", endpoint, key)
            memory[f"common_approach_{mib}mib_rss_mb"] = round(theirs["max_rss_mb"], 1)
            rows.append((f"peak RSS, common approach, {mib} MiB in", f"{theirs['max_rss_mb']:.0f} MB", ""))
    return memory, rows


def _small_objects(endpoint: str) -> tuple[dict[str, Any], list[Row]]:
    progress("500 small objects with 20 ms added S3 latency, concurrent and one by one")
    concurrent, sequential = workloads.small_objects(endpoint, count=500, latency_s=0.02)
    result = {"concurrent_s": concurrent, "one_by_one_s": sequential, "x": sequential / concurrent}
    return result, [
        ("500 small objects, +20 ms S3 latency", f"{concurrent:.1f} s", f"{sequential / concurrent:.1f}× one by one")
    ]


def _ingestion(rounds: int) -> tuple[dict[str, Any], list[Row]]:
    progress("the manifest writer on 10,000 notifications")
    batch = ingestion.sqs_batch(10_000)
    timings = [ingestion.manifest_writer(batch) for _ in range(max(rounds, 5))]
    ours = statistics.median(t[0] for t in timings)
    bare = statistics.median(t[1] for t in timings)
    writer = {
        "notifications": 10_000,
        "seconds": ours,
        "per_second": 10_000 / ours,
        "json_loads_per_second": 10_000 / bare,
    }
    results: dict[str, Any] = {"manifest_writer": writer}
    rows = [
        (
            "manifest writer, 10,000 notifications",
            f"{10_000 / ours:,.0f}/s",
            f"json.loads alone: {10_000 / bare:,.0f}/s",
        )
    ]
    backfill: dict[str, float] = {}
    for keys in (10_000, 100_000):
        progress(f"backfill of {keys:,} listed keys")
        measured = _in_subprocess("backfill", str(keys), module="ingestion", in_lambda=False)  # a CLI command
        backfill[f"keys_{keys}_rss_mb"] = round(measured["max_rss_mb"], 1)
        rows.append((f"peak RSS, backfill of {keys:,} keys", f"{measured['max_rss_mb']:.0f} MB", ""))
    results["backfill"] = backfill
    return results, rows


def _reduction(rounds: int) -> tuple[dict[str, Any], list[Row]]:
    reducer: dict[str, float] = {}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in (10_000, 100_000):
            progress(f"the reducer and a naive json.load on {count:,} result records")
            folder = Path(tmp) / str(count)
            reduction.make_results(folder, count)
            ours_rss = _in_subprocess("reducer", str(folder), module="reduction")["max_rss_mb"]
            naive_rss = _in_subprocess("naive", str(folder), module="reduction")["max_rss_mb"]
            reducer |= {f"reducer_{count}_rss_mb": round(ours_rss, 1), f"naive_{count}_rss_mb": round(naive_rss, 1)}
            rows.append(
                (f"peak RSS, reducer / naive, {count:,} results", f"{ours_rss:.0f} MB", f"naive: {naive_rss:.0f} MB")
            )
        progress(f"the reducer's speed on 100,000 result records, {rounds} rounds")
        largest = str(Path(tmp) / "100000")
        ours = _median(lambda: reduction.reducer(largest), rounds)
        naive = _median(lambda: reduction.naive(largest), rounds)
    reducer |= {"reducer_100000_s": ours, "naive_100000_s": naive, "x_naive": naive / ours}
    rows.append(("reducer, 100,000 result records", f"{ours:.1f} s", f"{naive / ours:.2f}× naive json.load"))
    return reducer, rows


def _cold_starts(rounds: int) -> tuple[dict[str, Any], list[Row]]:
    """Each built function's handler import, fresh and pinned (`make bench` builds first)."""
    from landfall_cli.invoke import build, runtime_folder

    progress(f"cold starts: each built function's handler imported fresh, {max(rounds, 5)} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        measured = cold_start.measure(build(ROOT), runtime_folder(Path(tmp)), max(rounds, 5), speed.bench_core())
    results: dict[str, Any] = {}
    rows: list[Row] = []
    for name, (timings, modules) in measured.items():
        ms = [s * 1000 for s in timings.seconds]
        results[f"{name}_ms"] = timings.median * 1000
        results[f"{name}_modules"] = modules
        rows.append(
            (
                f"cold start (handler import), {name}",
                f"{timings.median * 1000:.0f} ms",
                f"{min(ms):.0f}–{max(ms):.0f} ms, {modules} modules",
            )
        )
    return results, rows


def _common_approach(endpoint: str, size: int, results: dict[str, Any]) -> list[Row]:
    progress("the common approach (whole read + json.loads + pydantic) on the same file")
    common = _median(lambda: workloads.common_approach(endpoint, "events.jsonl.gz"), 1)
    handler = results["handler_s"]
    results |= {"common_approach_s": common, "handler_x_common_approach": common / handler}
    return [
        (
            "common approach (read all + json.loads + pydantic)",
            f"{size / 1e6 / common:.0f} MB/s",
            f"ours is {common / handler:.1f}× faster",
        )
    ]


def _batch(endpoint: str, work: Path) -> dict[str, Any]:
    """A batch at the defaults through the processor, in Lambda's environment: its files and their PUTs."""
    progress(f"a default batch: {batch.objects_per_batch()} objects of {cost.OBJECT_BYTES / 1e6:.0f} MB")
    keys = batch.upload(endpoint, work)
    measured = _in_subprocess("process", endpoint, *keys, module="batch")
    s3 = workloads.client(endpoint)
    s3.delete_objects(Bucket=workloads.INPUT, Delete={"Objects": [{"Key": key} for key in keys]})
    return batch.figures(measured["result"]) | {"rss_mb": round(measured["max_rss_mb"], 1)}


def _terabyte(
    results: dict[str, Any], measured: dict[str, Any], reducer_s_per_result: float, commit_times: dict[str, Any]
) -> list[Row]:
    """The terabyte priced from the processor's measured speed and bytes, the default batch's files, the
    reducer's time per result and the commit's by its files; into `results` (the speed's)."""
    terabyte = cost.terabyte(
        results["stored_bytes"] / results["handler_s"],
        results["parquet_bytes_per_input_byte"],
        measured["files_per_batch"],
        reducer_s_per_result,
        commit_times,
    )
    terabyte |= {key: measured[key] for key in ("median_file_mb", "half_bytes_in_files_of_mb")}
    results["terabyte"] = terabyte
    return batch.rows(measured, terabyte) + cost.rows(terabyte)


def _processor(
    args: argparse.Namespace, reducer_s_per_result: float, commit_times: dict[str, Any]
) -> tuple[dict[str, Any], list[Row]]:
    """Speed, cost and memory of the processor, on one moto server; the cost with the reducer's measured
    time per result record and the commit's."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, MotoServer() as endpoint:
        work = Path(tmp)
        path = work / "events.jsonl.gz"
        progress(f"generating {args.mb} MB of events")
        size = workloads.make_file(path, args.mb * 1_000_000)
        results["uncompressed_mb"] = round(size / 1e6, 1)
        workloads.upload(endpoint, path, "events.jsonl.gz")
        results["speed"], rows = _speed(path, endpoint, size, args.rounds)
        speed_results = results["speed"]
        rows += _common_approach(endpoint, size, speed_results)
        results["batch"] = _batch(endpoint, work)
        rows += _terabyte(speed_results, results["batch"], reducer_s_per_result, commit_times)
        mean_record = size / workloads.line_count(path)
        total = speed_results["terabyte"]["cost"]["total_usd"]
        speed_results["elsewhere"] = cost.alternatives(size / speed_results["stored_bytes"], mean_record, total)
        rows += cost.alternative_rows(speed_results["elsewhere"])
        results["memory"], memory_rows = _memory(endpoint, work, [int(s) for s in args.memory_sizes.split(",")])
        results["small_objects"], small_rows = _small_objects(endpoint)
    return results, rows + memory_rows + small_rows


def _commits(rounds: int) -> tuple[dict[str, Any], list[Row]]:
    progress("a run's Iceberg commit: 1, 1,000 and 100,000 files")
    with MotoServer() as endpoint:
        measured = commit.commit_times(endpoint, rounds)
    return measured, commit.rows(measured)


def _compaction(batch_figures: dict[str, Any], terabyte: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    """The upkeep compacting an hour of 30 and of 120 small files (each in a fresh process, beside a naive
    in-memory rewrite), and what it adds to a terabyte: the batches' small files (all but each batch's
    largest) compacted once."""
    results: dict[str, Any] = {"naive_rss_mb": {}}
    with MotoServer() as endpoint:
        for files in compaction.SIZES:
            progress(f"compaction: an hour of {files} small files")
            compaction.make_partition(endpoint, files)
            measured = _in_subprocess("compact_partition", endpoint, str(files), module="compaction")
            naive = _in_subprocess("naive_rewrite", endpoint, str(files), module="compaction")
            results[f"files_{files}"] = measured["result"] | {"rss_mb": round(measured["max_rss_mb"], 1)}
            results["naive_rss_mb"][str(files)] = round(naive["max_rss_mb"], 1)
            results[f"naive_{files}_s"] = naive["result"]["seconds"]
    large = results[f"files_{max(compaction.SIZES)}"]
    results["x_naive"] = results[f"naive_{max(compaction.SIZES)}_s"] / large["seconds"]
    small_mb = sorted(batch_figures["file_mb"])[:-1]  # a batch's files but its largest: late hours
    results["terabyte"] = compaction.terabyte(large, 1e6 * statistics.mean(small_mb) if small_mb else 1e6)
    results["small_bytes_per_tb"] = 1e6 * sum(small_mb) * terabyte["batches"]
    results["by_target"] = compaction.by_target(
        batch_figures["file_mb"], terabyte["batches"], terabyte["usd_per_tb"]["x86_64"], results["terabyte"]["usd"]
    )
    # a day at 1 TB a day: every batch's large file stays; its late hours' files, compacted, are a few an hour
    small_files = len(small_mb) * terabyte["batches"]
    results["day_files_before"] = terabyte["files"]
    results["day_files_after"] = terabyte["batches"] + 24 * max(
        1, math.ceil(results["small_bytes_per_tb"] / 24 / compaction.TARGET_BYTES)
    )
    results["day_small_files"] = small_files
    results["pipeline_usd"] = terabyte["usd_per_tb"]["x86_64"]
    results["pipeline_with_compaction_usd"] = (
        results["pipeline_usd"] + results["terabyte"]["usd"] * results["small_bytes_per_tb"] / 1e12
    )
    return results, compaction.rows(results)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--mb", type=int, default=200, help="uncompressed size of the speed test file")
    parser.add_argument("--rounds", type=int, default=3)
    # both past every bound the processor holds (the rows before they spill, a Parquet file up to its
    # single PUT of 64 MiB): a peak that grows between them grows with the object
    parser.add_argument("--memory-sizes", default="512,2048", help="MiB of input for the memory test")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/latest.json")
    args = parser.parse_args()
    progress(f"{args.rounds} rounds on {args.mb} MB; about 11 minutes on 2 cores at the defaults")
    # first: the terabyte's cost takes the reducer's time per result and the commit's by its files
    reducer, reducer_rows = _reduction(args.rounds)
    commits, commit_rows = _commits(args.rounds)
    measured, rows = _processor(args, reducer["reducer_100000_s"] / 100_000, commits)
    results: dict[str, Any] = {"rounds": args.rounds, **measured, "reducer": reducer}
    results["compaction"], compaction_rows = _compaction(results["batch"], results["speed"]["terabyte"])
    rows += compaction_rows
    ingested, ingestion_rows = _ingestion(args.rounds)
    results["cold_start"], cold_rows = _cold_starts(args.rounds)
    results |= ingested
    rows += ingestion_rows + reducer_rows + cold_rows
    results["commit"] = commits
    results["unzipped_bytes"] = sizes.function_sizes(ROOT / ".aws-sam" / "build")
    rows += commit_rows + sizes.rows(results["unzipped_bytes"])
    results["aims"] = aims.check(results)

    width = max(len(r[0]) for r in rows)
    print(f"{results['uncompressed_mb']:.0f} MB uncompressed, medians of {args.rounds} rounds")
    for name, value, ratio in rows:
        print(f"{name:{width}}  {value:>10}  {ratio}")
    print("\nthe aims")
    print("\n".join(aims.table(results["aims"])))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
