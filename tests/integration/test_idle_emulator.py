"""An idle emulator is idle: kept up after a run (`--keep`) for the `--local` commands, it spends next to no
CPU while nothing runs (its SQS poller used to short-poll in a loop: a whole core, for nothing)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.integration.test_interrupt import Demo, left_of

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

IDLE_SECONDS = 3.0  # the window measured
MOST_OF_A_CORE = 0.10


def cpu_seconds(root: int) -> float:
    """User and system time of `root` and of every live process under it, each with its reaped children's."""
    below: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while listed
            continue
        fields = text[text.rindex(")") + 2 :].split()  # state, ppid, … utime (12th), stime, cutime, cstime
        pid = int(stat.parent.name)
        below.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(n) for n in fields[11:15])
    total, tree = 0, [root]
    while tree:
        pid = tree.pop()
        total += ticks.get(pid, 0)
        tree += below.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def test_a_kept_emulator_spends_next_to_no_cpu_while_nothing_runs(tmp_path: Path):
    demo = Demo(tmp_path, ("--objects", "2", "--records", "20", "--keep", "5"))
    try:
        demo.wait_for_line(r"the emulator stays up for")
        demo.wait(1.0)  # the run's last threads end
        before, started = cpu_seconds(demo.process.pid), time.monotonic()
        demo.wait(IDLE_SECONDS)
        used, seconds = cpu_seconds(demo.process.pid) - before, time.monotonic() - started
        status, _ = demo.interrupt()
        output = demo.text()
        left = left_of(demo.process.pid)
    finally:
        demo.kill()
    assert used / seconds < MOST_OF_A_CORE, f"{used:.2f} CPU seconds in {seconds:.1f} s of idleness"
    assert status == 130, output
    assert left == []
