"""The processor's speed on one core, as ratios to `zcat FILE | wc -l` measured in the same rounds.

Every workload runs in its own interpreter pinned to one core (what a Lambda vCPU stands for), the
moto server on the others; rounds interleave the workloads, so a slower moment of the shared machine
costs each of them alike; results are medians with their range. Beside this version's processor
(Parquet output) runs the release before it, which wrote gzip JSON lines, taken from git
(`JSON_LINES_RELEASE`): the same data, server and core, so the two outputs compare directly.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import ROOT

JSON_LINES_RELEASE = "80e2593"  # the last commit whose processor wrote gzip JSON lines


def bench_core() -> int:
    """The core the measured processes run on: the last one this process may use."""
    return max(os.sched_getaffinity(0))


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def ratio(self, reference: Timings) -> tuple[float, float, float]:
        """reference / this: the median, and the range over rounds (each round's own pair)."""
        pairs = [r / s for r, s in zip(reference.seconds, self.seconds, strict=True)]
        return reference.median / self.median, min(pairs), max(pairs)


def pin(core: int) -> Callable[[], None]:
    return lambda: os.sched_setaffinity(0, {core})


def zcat_wc(path: Path, core: int) -> float:
    code = "import subprocess, sys, time; t = time.perf_counter(); "
    code += "subprocess.run(f\"zcat '{sys.argv[1]}' | wc -l\", shell=True, check=True, capture_output=True); "
    code += "print(time.perf_counter() - t)"
    return _run([sys.executable, "-c", code, str(path)], ROOT, core)


def workload(tree: Path, function: str, *args: str, core: int) -> float:
    """`benchmarks.workloads.<function>(*args)` of the source `tree`, pinned: the seconds it returns."""
    code = f"import json, sys; from benchmarks import workloads; print(json.dumps(workloads.{function}(*sys.argv[1:])))"
    return _run([sys.executable, "-c", code, *args], tree, core)


def _run(command: list[str], tree: Path, core: int) -> float:
    paths = [tree / "layers" / "common", tree / "cli", tree]  # the tree's own code before the installed one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    done = subprocess.run(  # noqa: S603 - this interpreter, our own code
        command, cwd=tree, env=env, capture_output=True, text=True, check=False, preexec_fn=pin(core)
    )
    if done.returncode:
        raise RuntimeError(f"{command[-3:]} failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def previous_release(rev: str = JSON_LINES_RELEASE) -> Iterator[Path | None]:
    """The source tree of `rev` (None when git cannot give it, e.g. outside a clone)."""
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "release.tar"
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), rev],  # noqa: S607
            capture_output=True,
            check=False,
        )
        if done.returncode:
            yield None
            return
        tree = Path(folder) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
        yield tree


def output_bytes(s3, bucket: str, prefix: str, suffix: str) -> int:
    """Bytes of the objects under `prefix` whose keys end with `suffix` (one run's output)."""
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(o["Size"] for o in page.get("Contents", []) if o["Key"].endswith(suffix))
    return total


def output_files(s3, bucket: str, prefix: str, suffix: str) -> int:
    """How many objects under `prefix` end with `suffix`."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(o["Key"].endswith(suffix) for page in pages for o in page.get("Contents", []))
