"""The quality rules over the trailing runs, as a picture: a row a rule, its observed value run by run
(oldest on the left), the breaches marked, so that a drift is seen before it breaches. A plain SVG,
written next to report.md (`quality.svg`) and by `landfall quality --chart`.
"""

from __future__ import annotations

from html import escape

from landfall.reduce.quality import QualityRecord
from landfall.reduce.timeline import ASCII_EM, FONT, SIZE, TITLE_SIZE

LABEL, PLOT, VALUE = 240, 480, 120  # the row's columns: the rule's name, its line, the last value
ROW, TOP, PAD = 44, 40, 10
BREACHED, PASSED = "#d62728", "#1f77b4"


def _fit(text: str, width: float) -> str:
    room = int(width / (SIZE * ASCII_EM))
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def _row(index: int, rule: str, points: list[tuple[float | None, bool]]) -> list[str]:
    top = TOP + index * ROW
    values = [v for v, _ in points if v is not None]
    parts = [f'<text x="{PAD}" y="{top + ROW / 2 + 4}">{escape(_fit(rule, LABEL - 2 * PAD))}</text>']
    if not values:
        return parts
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = PLOT / max(len(points) - 1, 1)
    coords = [
        (LABEL + i * step, top + ROW - 8 - (ROW - 16) * (v - low) / span, breached)
        for i, (v, breached) in enumerate(points)
        if v is not None
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
    parts.append(f'<polyline points="{line}" fill="none" stroke="{PASSED}" stroke-width="1.5"/>')
    parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BREACHED if bad else PASSED}"/>' for x, y, bad in coords]
    parts.append(f'<text x="{LABEL + PLOT + PAD}" y="{top + ROW / 2 + 4}">{values[-1]:,.4g}</text>')
    return parts


def draw_trend(records: list[QualityRecord]) -> str:
    """The rules of `records` (newest first, as `read_history` gives them), a row each."""
    ordered = records[::-1]
    rules = list(dict.fromkeys(result.rule for record in ordered for result in record.rules))
    width, height = LABEL + PLOT + VALUE, TOP + ROW * max(len(rules), 1) + PAD
    title = f"Quality rules over the last {len(records)} runs (oldest left; red: breached)"
    body = [f'<text x="{PAD}" y="{TOP - 16}" font-size="{TITLE_SIZE}">{escape(title)}</text>']
    for index, rule in enumerate(rules):
        points = []
        for record in ordered:
            found = next((r for r in record.rules if r.rule == rule), None)
            points.append((found.observed, found.outcome == "breached") if found else (None, False))
        body += _row(index, rule, points)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="{FONT}" font-size="{SIZE}">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )
