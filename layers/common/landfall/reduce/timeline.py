"""A picture of a map run, drawn from its ResultWriter records: how many children (batches) ran at
once over time, where children failed, and which spent most of their time waiting rather than working
(a child's wall time beyond its processor's own duration is retries, throttles and backoff).

A plain SVG, written next to report.md, which embeds it; no plotting library is needed for it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from math import floor, log10

from landfall.reduce.details import Children

WIDTH, HEIGHT = 900, 316
LEFT, RIGHT, TOP, BOTTOM = 60, 40, 56, 50
MARGIN = 10  # the title's and legend's rows, across the whole picture
WAITED = 0.5  # a child that spent more than half its wall time not working

# SVG cannot measure text, so every word is drawn in monospace and laid out by a bound on its extent: an
# ASCII glyph advances at most 0.62 em (DejaVu Sans Mono, Menlo, Courier, Liberation Mono: 0.60; Consolas
# 0.55), any other at most 1.2 em (two cells, or a fallback font's glyph); a line reaches 1.0 em above its
# baseline and 0.3 em below. tests/unit/reduce/test_timeline.py checks the layout with the same bound.
FONT = "monospace"
ASCII_EM, OTHER_EM, ASCENT_EM, DESCENT_EM = 0.62, 1.2, 1.0, 0.3
TITLE_SIZE, SIZE = 14, 12
ELLIPSIS = "…"
MAX_STEPS = 5  # tick intervals; 5 at most keeps ticks >= 160 px apart, wider than any label
SLACK = 1e-3  # of a step: a span a rounding error short of a tick (0.4 s as 0.39999997) still gets it
UNITS = (("s", 1, 120), ("min", 60, 7200), ("h", 3600, float("inf")))  # (name, seconds, used below this span)


def running(children: Children, columns: int = WIDTH - LEFT - RIGHT) -> list[tuple[float, int]]:
    """(seconds since the first start, children running from then on), at pixel resolution: per column
    of the plot, the highest count in it and the count it ends with. The picture of a run of 100,000
    children is as small as that of 100, and so is the memory drawing it takes."""
    if not children.starts:
        return []
    starts, stops = sorted(children.starts), sorted(children.stops)
    first = starts[0]
    span = max(stops[-1], starts[-1]) - first or 1.0
    peaks: dict[int, int] = {}
    ends: dict[int, int] = {}
    count, i, j = 0, 0, 0
    while i < len(starts) or j < len(stops):
        if j < len(stops) and (i == len(starts) or stops[j] <= starts[i]):  # a stop before a start at one instant
            moment, count, j = stops[j], count - 1, j + 1
        else:
            moment, count, i = starts[i], count + 1, i + 1
        column = int(columns * (moment - first) / span)
        peaks[column] = max(peaks.get(column, 0), count)
        ends[column] = count
    steps = []
    for column in sorted(peaks):
        at = span * column / columns
        steps.append((at, peaks[column]))
        if ends[column] != peaks[column]:
            steps.append((at, ends[column]))
    steps[-1] = (span, steps[-1][1])  # the last stop ends the plot
    return steps


def _columns_marked(children: Children, which: list[int], first: float, x: Callable[[float], float]) -> list[float]:
    """The x of each marked child's stop, one mark a pixel column: 100,000 failures draw as a row, not a file."""
    return sorted({round(x(children.stops[index] - first)) for index in which})


def waited(children: Children, index: int) -> bool:
    """Whether the child spent more than half of (more than 10 s of) wall time not working."""
    wall, busy = children.stops[index] - children.starts[index], children.busy_ms[index]
    return busy >= 0 and wall > 10 and busy / 1000 < (1 - WAITED) * wall


def draw(children: Children, title: str) -> str:
    """The picture; the title (the whole of it also in <title>) is shortened in its middle if it is too long
    for its row, keeping its start and end (the run's status)."""
    steps = running(children)
    span = max((seconds for seconds, _ in steps), default=0.0) or 1.0
    peak = max((count for _, count in steps), default=0)
    top = peak or 1  # the count axis of a run without children still has a height
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    first = min(children.starts, default=0.0)
    slow = [i for i in range(len(children)) if waited(children, i)]

    def x(seconds: float) -> float:
        return LEFT + plot_w * seconds / span

    def y(count: float) -> float:
        return TOP + plot_h * (1 - count / top)

    points, last = [f"{x(0):.1f},{y(0):.1f}"], 0
    for seconds, count in steps:
        points += [f"{x(seconds):.1f},{y(last):.1f}", f"{x(seconds):.1f},{y(count):.1f}"]
        last = count
    failed = [i for i in range(len(children)) if children.failed[i]]
    marks = [_mark(at, TOP - 6, "failed", "#c0392b") for at in _columns_marked(children, failed, first, x)]
    marks += [_mark(at, TOP - 14, "waited", "#e67e22") for at in _columns_marked(children, slow, first, x)]
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="{FONT}" '
    svg += f'font-size="{SIZE}">'
    heading = _text(MARGIN, 18, _fit(title, TITLE_SIZE, WIDTH - 2 * MARGIN), f'class="title" font-size="{TITLE_SIZE}"')
    line = f'<polyline class="running" fill="none" stroke="#2c7fb8" stroke-width="1.5" points="{" ".join(points)}"/>'
    legend = _legend(len(children), peak, len(failed), len(slow))
    parts = [svg, f"<title>{escape(title)}</title>", heading, *_axes(span, top, plot_w, plot_h), line, *marks, legend]
    return "\n".join([*parts, "</svg>"]) + "\n"


def _text(x: float, y: float, text: str, attributes: str) -> str:
    return f'<text {attributes} x="{x:.1f}" y="{y}">{escape(text)}</text>'


def _width(text: str, size: float) -> float:
    """The most the text can take across, by the bound above."""
    return size * sum(ASCII_EM if ord(char) < 128 else OTHER_EM for char in text)


def _fit(text: str, size: float, room: float) -> str:
    """The text, or as much of its start and end as fits in room around an ellipsis."""
    if _width(text, size) <= room:
        return text
    budget, head, tail = room - _width(ELLIPSIS, size), 0, 0
    while head + tail < len(text):
        at_head = head <= tail
        needed = _width(text[head] if at_head else text[-1 - tail], size)
        if needed > budget:
            break
        budget -= needed
        head, tail = (head + 1, tail) if at_head else (head, tail + 1)
    return text[:head] + ELLIPSIS + text[len(text) - tail :]


def _mark(x: float, y: float, kind: str, colour: str) -> str:
    return f'<path class="{kind}" d="M{x:.1f},{y + 6} l-4,-7 h8 z" fill="{colour}"/>'


def ticks(span: float) -> list[tuple[float, str]]:
    """(seconds, label) of the time axis: every multiple of a step of 1, 2 or 5 x 10^k s, min or h up to
    the span, in a unit that keeps the labels short."""
    name, unit, _ = next(each for each in UNITS if span < each[2])
    length = span / unit
    exponent = floor(log10(length / MAX_STEPS))
    candidates = [(1, exponent), (2, exponent), (5, exponent), (1, exponent + 1)]
    mantissa, exponent = next((m, e) for m, e in candidates if length / (m * 10.0**e) <= MAX_STEPS + SLACK)
    step, decimals = mantissa * 10.0**exponent, max(0, -exponent)
    count = floor(length / step + SLACK)
    return [(n * step * unit, f"{n * step:.{decimals}f} {name}") for n in range(count + 1)]


def _axes(span: float, peak: int, plot_w: int, plot_h: int) -> list[str]:
    bottom = TOP + plot_h
    lines = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + plot_w}" y2="{bottom}" stroke="#555"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#555"/>',
    ]
    for seconds, label in ticks(span):
        lines.append(_text(LEFT + plot_w * seconds / span, bottom + 20, label, 'class="tick" text-anchor="middle"'))
    # The count's 0 sits above the time's row, clear of its "0 s".
    lines.append(_text(LEFT - 8, TOP + 4, str(peak), 'class="peak" text-anchor="end"'))
    lines.append(_text(LEFT - 8, bottom + 2, "0", 'text-anchor="end"'))
    lines.append(
        _text(
            LEFT + plot_w / 2,
            bottom + 38,
            "children (batches) running, from the map run's first start",
            'text-anchor="middle"',
        )
    )
    return lines


def _legend(children: int, peak: int, failed: int, slow: int) -> str:
    """On its own row under the title, above the rows of marks."""
    text = f"{children} children, at most {peak} at once; ▼ red: {failed} failed; ▼ orange: {slow} mostly waiting"
    return _text(MARGIN, 36, _fit(text, SIZE, WIDTH - 2 * MARGIN), 'class="legend"')
