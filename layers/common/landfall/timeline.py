"""A picture of a map run, drawn from its ResultWriter records: how many children (batches) ran at
once over time, where children failed, and which spent most of their time waiting rather than working
(a child's wall time beyond its processor's own duration is retries, throttles and backoff).

A plain SVG, written next to report.md, which embeds it; no plotting library is needed for it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from landfall.details import Children

WIDTH, HEIGHT = 900, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 50
WAITED = 0.5  # a child that spent more than half its wall time not working


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
    steps = running(children)
    span = max((seconds for seconds, _ in steps), default=0.0) or 1.0
    peak = max((count for _, count in steps), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    first = min(children.starts, default=0.0)
    slow = [i for i in range(len(children)) if waited(children, i)]

    def x(seconds: float) -> float:
        return LEFT + plot_w * seconds / span

    def y(count: float) -> float:
        return TOP + plot_h * (1 - count / peak)

    points, last = [f"{x(0):.1f},{y(0):.1f}"], 0
    for seconds, count in steps:
        points += [f"{x(seconds):.1f},{y(last):.1f}", f"{x(seconds):.1f},{y(count):.1f}"]
        last = count
    failed = [i for i in range(len(children)) if children.failed[i]]
    marks = [_mark(at, TOP - 6, "failed", "#c0392b") for at in _columns_marked(children, failed, first, x)]
    marks += [_mark(at, TOP - 14, "waited", "#e67e22") for at in _columns_marked(children, slow, first, x)]
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
        f'font-size="12">',
        f'<title>{escape(title)}</title>',
        f'<text x="{LEFT}" y="18" font-size="14">{escape(title)}</text>',
        *_axes(span, peak, plot_w, plot_h),
        f'<polyline class="running" fill="none" stroke="#2c7fb8" stroke-width="1.5" points="{" ".join(points)}"/>',
        *marks,
        _legend(len(children), peak, len(failed), len(slow)),
        "</svg>",
    ]) + "\n"  # fmt: skip


def _mark(x: float, y: float, kind: str, colour: str) -> str:
    return f'<path class="{kind}" d="M{x:.1f},{y + 6} l-4,-7 h8 z" fill="{colour}"/>'


def _axes(span: float, peak: int, plot_w: int, plot_h: int) -> list[str]:
    bottom = TOP + plot_h
    lines = [f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + plot_w}" y2="{bottom}" stroke="#555"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#555"/>']  # fmt: skip
    for tick in range(5):
        seconds = span * tick / 4
        label = f"{seconds:.0f} s" if span < 600 else f"{seconds / 60:.1f} min"
        at = LEFT + plot_w * tick / 4
        lines.append(f'<text x="{at:.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
    lines.append(f'<text class="peak" x="{LEFT - 8}" y="{TOP + 4}" text-anchor="end">{peak}</text>')
    lines.append(f'<text x="{LEFT - 8}" y="{bottom + 4}" text-anchor="end">0</text>')
    lines.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{bottom + 34}" text-anchor="middle">'
                 "children (batches) running, from the map run's first start</text>")  # fmt: skip
    return lines


def _legend(children: int, peak: int, failed: int, slow: int) -> str:
    text = f"{children} children, at most {peak} at once; ▼ red: {failed} failed; ▼ orange: {slow} mostly waiting"
    return f'<text class="legend" x="{WIDTH - RIGHT}" y="18" text-anchor="end">{escape(text)}</text>'
