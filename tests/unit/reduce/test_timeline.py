"""The timeline counts children running at once exactly, stays a small picture for any run, and none of
its words collide: checked by the extent of its text, not by eye."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import combinations
from math import isclose

import pytest

from landfall.reduce.details import Children
from landfall.reduce.timeline import draw, running

T0 = datetime(2026, 11, 22, 13, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
# The most a monospace glyph takes (em): across, ASCII (0.6 in common monospace fonts) and any other (two
# cells); above and below the baseline. Stated here on its own, not imported, so loosening it there fails here.
ASCII_EM, OTHER_EM, ASCENT_EM, DESCENT_EM = 0.62, 1.2, 1.0, 0.3
NORMAL_RUN_ID = "notification-" + "0123456789abcdef" * 2  # as manifests.py names a run: source-digest[:32]
LONGEST_NAME = 80  # a Step Functions execution name, the run id, is at most 80 characters
Box = tuple[float, float, float, float]  # left, top, right, bottom


def children(*spans: tuple[float, float], failed: tuple[int, ...] = ()) -> Children:
    made = Children()
    for index, (start, stop) in enumerate(spans):
        made.add(
            (T0 + timedelta(seconds=start)).isoformat(),
            (T0 + timedelta(seconds=stop)).isoformat(),
            index in failed,
            None,
        )
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


@cache
def a_run(count: int) -> Children:
    """count children of 20 s started within a second (all running at once), a tenth failed, a tenth waiting."""
    made = Children()
    for n in range(count):
        start = T0 + timedelta(seconds=n / count)
        made.add(
            start.isoformat(),
            (start + timedelta(seconds=20)).isoformat(),
            n % 10 == 0,
            1_000 if n % 10 == 5 else 20_000,
        )
    return made


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - the module's own picture, not untrusted input


def tick_labels(root: ET.Element) -> list[tuple[float, str]]:
    """(x, label) of each tick of the time axis."""
    ticks = (text for text in root.iter(f"{SVG}text") if text.get("class") == "tick")
    return [(float(text.get("x", "")), text.text or "") for text in ticks]


def text_boxes(root: ET.Element) -> list[tuple[str, Box]]:
    """Each <text>'s words and the box they can take at most, from x, y, font-size, text-anchor and the bound."""
    assert root.get("font-family") == "monospace"
    boxes = []
    for text in root.iter(f"{SVG}text"):
        assert text.get("font-family") is None and len(text) == 0  # the bound's font; no <tspan> unmeasured
        words, size = text.text or "", float(text.get("font-size", root.get("font-size", "")))
        across = size * sum(ASCII_EM if ord(char) < 128 else OTHER_EM for char in words)
        anchor = {"start": 0, "middle": across / 2, "end": across}[text.get("text-anchor", "start")]
        left = float(text.get("x", "")) - anchor
        y = float(text.get("y", ""))
        boxes.append((words, (left, y - ASCENT_EM * size, left + across, y + DESCENT_EM * size)))
    return boxes


def mark_boxes(root: ET.Element) -> list[Box]:
    """The failed and waited marks: triangles 8 px wide, 7 px tall, drawn up from their point."""
    boxes = []
    for path in root.iter(f"{SVG}path"):
        point = re.fullmatch(r"M([\d.]+),([\d.]+) l-4,-7 h8 z", path.get("d", ""))
        assert point, path.get("d")
        x, y = float(point[1]), float(point[2])
        boxes.append((x - 4, y - 7, x + 4, y))
    return boxes


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_laid_out(svg: str) -> ET.Element:
    """No two words overlap, nor a word and a mark, and every word is inside the picture."""
    root = parse(svg)
    width, height = float(root.get("width", "")), float(root.get("height", ""))
    texts, marks = text_boxes(root), mark_boxes(root)
    for words, (left, top, right, bottom) in texts:
        assert left >= 0 and right <= width and top >= 0 and bottom <= height, words
        assert not any(overlap((left, top, right, bottom), mark) for mark in marks), words
    for (a, box_a), (b, box_b) in combinations(texts, 2):
        assert not overlap(box_a, box_b), (a, b)
    return root


@pytest.mark.parametrize("run_id", ["r", NORMAL_RUN_ID, "x" * LONGEST_NAME, "y" * 300])
@pytest.mark.parametrize("count", [0, 1, 10, 100_000])
def test_no_word_overlaps_another_or_a_mark_or_leaves_the_picture(run_id, count):
    svg = draw(a_run(count), f"Run {run_id}: SUCCEEDED")
    root = assert_laid_out(svg)
    assert bool(mark_boxes(root)) == (count > 0)  # the marks were there to collide with
    assert f"{count} children, at most {count} at once" in svg  # the legend, whole


@pytest.mark.parametrize("run_id", ["r", NORMAL_RUN_ID, "x" * LONGEST_NAME, "y" * 300])
def test_the_title_is_whole_for_any_run_id_and_keeps_its_status_when_longer(run_id):
    title = f"Run {run_id}: FAILED"
    root = parse(draw(a_run(10), title))
    shown = root.find(f"{SVG}text[@class='title']")
    assert shown is not None and root.findtext(f"{SVG}title") == title
    if len(run_id) <= LONGEST_NAME:
        assert shown.text == title
    else:
        assert shown.text and re.fullmatch(r"Run y+…y+: FAILED", shown.text)


@pytest.mark.parametrize("seconds", [0.4, 3, 7, 59, 61, 3_600, 5 * 3_600])
def test_the_time_axis_is_ticked_at_distinct_round_values_a_nice_step_apart(seconds):
    root = assert_laid_out(draw(children((0, seconds)), "a run"))
    ticks = tick_labels(root)
    values, units = zip(*(label.split(" ") for _, label in ticks), strict=True)
    values, scale = [float(value) for value in values], {"s": 1, "min": 60, "h": 3_600}[units[0]]
    step = values[1] - values[0]
    assert 3 <= len(ticks) <= 6 and set(units) == {units[0]}
    assert len({label for _, label in ticks}) == len(ticks) and values == sorted(set(values))
    assert any(isclose(step, m * 10.0**k) for m in (1, 2, 5) for k in range(-3, 4))
    assert all(isclose(value, n * step, abs_tol=1e-9) for n, value in enumerate(values))
    assert values[-1] * scale <= seconds * 1.001 and seconds < (values[-1] + step) * scale  # up to the axis's end
    axis = root.find(f"{SVG}line")
    assert axis is not None
    start, end = float(axis.get("x1", "")), float(axis.get("x2", ""))
    for (x, _), value in zip(ticks, values, strict=True):
        assert isclose(x, start + (end - start) * value * scale / seconds, abs_tol=0.1)  # each where its time is


def test_a_three_second_run_is_ticked_every_second():
    assert [label for _, label in tick_labels(parse(draw(children((0, 3)), "a run")))] == ["0 s", "1 s", "2 s", "3 s"]
