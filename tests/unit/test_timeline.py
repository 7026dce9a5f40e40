"""The timeline counts children running at once exactly, and stays a small picture for any run."""

import re
from datetime import UTC, datetime, timedelta

from landfall.details import Children
from landfall.timeline import draw, running

T0 = datetime(2026, 11, 22, 13, tzinfo=UTC)


def children(*spans: tuple[float, float], failed: tuple[int, ...] = ()) -> Children:
    made = Children()
    for index, (start, stop) in enumerate(spans):
        made.add((T0 + timedelta(seconds=start)).isoformat(), (T0 + timedelta(seconds=stop)).isoformat(),
                 index in failed, None)  # fmt: skip
    return made


def test_children_running_at_once_are_counted_at_every_start_and_stop():
    steps = running(children((0, 10), (5, 15), (10, 20)), columns=20)
    assert [count for _, count in steps] == [1, 2, 2, 1, 0]  # at 10 s one stops as another starts: still 2
    assert steps[0][0] == 0 and steps[-1][0] == 20


def test_a_run_of_a_hundred_thousand_children_draws_as_small_as_a_short_one():
    """100,000 children of 10 s, a new one every 10 ms (1,000 at once at most), every tenth failed."""
    many = children(*((n / 100, n / 100 + 10) for n in range(100_000)), failed=tuple(range(0, 100_000, 10)))
    steps = running(many)
    assert len(steps) <= 2 * 820 and max(count for _, count in steps) == 1000
    svg = draw(many, "a long run")
    assert len(svg) < 120_000
    assert "100000 children, at most 1000 at once; ▼ red: 10000 failed" in svg
    assert re.search(r'class="peak"[^>]*>1000<', svg)
    assert svg.count('class="failed"') <= 820  # one mark a pixel column
