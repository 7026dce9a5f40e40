"""Throughput of the processor's core loop as a ratio of `zcat FILE | wc -l` on the same file.

Both run in this process, one after the other, on one generated gzip file of realistic records with
about 0.1 % bad lines, so the ratio holds whatever the machine's speed. Writes a table and a JSON file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from landfall.jobs import default_job
from landfall.records import Rejection, decode_block
from landfall.streaming import Block, decompress, iter_blocks
from landfall_cli.synthetic import event_lines

CHUNK = 1 << 20


def make_file(path: Path, megabytes: int) -> int:
    rng = random.Random(1)  # noqa: S311 - seeded test data
    start = datetime(2026, 11, 22, tzinfo=UTC)
    written = 0
    with gzip.open(path, "wb", compresslevel=6) as out:
        while written < megabytes * 1_000_000:
            block = b"\n".join(line for line, _ in event_lines(rng, 10_000, start, 0.001)) + b"\n"
            out.write(block)
            written += len(block)
    return written


def zcat_wc(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(f"zcat '{path}' | wc -l", shell=True, check=True, capture_output=True)  # noqa: S602
    return time.perf_counter() - started


def core_loop(path: Path) -> float:
    """Decompress + frame + decode + validate + aggregate, as the processor does, without output."""
    job = default_job()
    aggregate = job.new_aggregate()
    rejections: list[Rejection] = []
    started = time.perf_counter()
    with path.open("rb") as raw:
        chunks = iter(lambda: raw.read(CHUNK), b"")
        _, blocks = iter_blocks(decompress(chunks, CHUNK), 8 << 20)
        for block in blocks:
            if isinstance(block, Block):
                for segment in decode_block(job, block.data, block.first_line, rejections):
                    job.fold(aggregate, segment.records)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--mb", type=int, default=100, help="uncompressed size of the generated file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latest.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl.gz"
        size = make_file(path, args.mb)
        reference = statistics.median(zcat_wc(path) for _ in range(args.rounds))
        loop = statistics.median(core_loop(path) for _ in range(args.rounds))
    mb = size / 1e6
    rows = {
        "zcat | wc -l": {"seconds": reference, "mb_per_s": mb / reference, "ratio": 1.0},
        "core loop (decompress + frame + decode + validate + aggregate)": {
            "seconds": loop, "mb_per_s": mb / loop, "ratio": reference / loop,
        },
    }  # fmt: skip
    print(f"{mb:.0f} MB uncompressed, median of {args.rounds} rounds")
    print(f"{'':64} {'MB/s':>8} {'× zcat|wc':>10}")
    for name, row in rows.items():
        print(f"{name:64} {row['mb_per_s']:8.0f} {row['ratio']:10.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"uncompressed_mb": mb, "rounds": args.rounds, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
