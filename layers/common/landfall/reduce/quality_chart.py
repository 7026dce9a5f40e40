"""The quality rules over the trailing runs, as a picture: a row a rule, its observed value run by run
(oldest on the left) beside its bound, the breaches marked, so that a drift is seen before it breaches. A plain SVG,
written next to report.md (`quality.svg`) and by `landfall quality --chart`.
"""

from __future__ import annotations

import math
from html import escape
from typing import TypeGuard

from landfall.reduce.quality import QualityRecord, RuleResult
from landfall.reduce.timeline import ASCII_EM, FONT, SIZE, TITLE_SIZE

LABEL, PLOT, VALUE = 240, 480, 120  # the row's columns: the rule's name, its line, the last value
ROW, TOP, PAD = 44, 40, 10
BREACHED, PASSED, BOUND, SHADE = "#d62728", "#1f77b4", "#7f7f7f", "#f4f4f4"


def _fit(text: str, width: float) -> str:
    room = int(width / (SIZE * ASCII_EM))
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def _polyline(coords: list[tuple[float, float]], style: str) -> str:
    return f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}" fill="none" {style}/>'


def _row(index: int, rule: str, results: list[RuleResult | None]) -> list[str]:
    """The rule's values run by run (a dot each, red if breached) between its bounds (dashed grey lines,
    which move with a drift rule's trailing runs), on a scale that holds both."""
    top = TOP + index * ROW
    parts = [f'<text x="{PAD}" y="{top + ROW / 2 + 4}">{escape(_fit(rule, LABEL - 2 * PAD))}</text>']
    if index % 2 == 0:  # every other row shaded: which bound is whose
        parts.insert(0, f'<rect x="0" y="{top}" width="100%" height="{ROW}" fill="{SHADE}"/>')
    # a lag beyond the last bin is infinite (a backfill of old data): left out, as nothing to draw
    results = [r if r is None or _finite(r.observed) else r.model_copy(update={"observed": None}) for r in results]
    values = [r.observed for r in results if r is not None and r.observed is not None]
    if not values:
        return parts
    scale = values + [b for r in results if r is not None for b in (r.low, r.high) if _finite(b)]
    low, high = min(scale), max(scale)
    span = (high - low) or 1.0
    step = PLOT / max(len(results) - 1, 1)

    def at(i: int, value: float) -> tuple[float, float]:
        return LABEL + i * step, top + ROW - 8 - (ROW - 16) * (value - low) / span

    for side in ("low", "high"):
        bound = [at(i, b) for i, r in enumerate(results) if r is not None and _finite(b := getattr(r, side))]
        if bound:
            parts.append(_polyline(bound, f'stroke="{BOUND}" stroke-width="1" stroke-dasharray="4 3"'))
    observed = [
        (at(i, r.observed), r.outcome) for i, r in enumerate(results) if r is not None and r.observed is not None
    ]
    parts.append(_polyline([xy for xy, _ in observed], f'stroke="{PASSED}" stroke-width="1.5"'))
    parts += [
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BREACHED if outcome == "breached" else PASSED}"/>'
        for (x, y), outcome in observed
    ]
    parts.append(f'<text x="{LABEL + PLOT + PAD}" y="{top + ROW / 2 + 4}">{values[-1]:,.4g}</text>')
    return parts


def draw_trend(records: list[QualityRecord]) -> str:
    """The rules of `records` (newest first, as `read_history` gives them), a row each."""
    ordered = records[::-1]
    rules = list(dict.fromkeys(result.rule for record in ordered for result in record.rules))
    width, height = LABEL + PLOT + VALUE, TOP + ROW * max(len(rules), 1) + PAD
    title = f"Quality rules over the last {len(records)} runs (oldest left; red: breached; dashed: the bound)"
    body = [f'<text x="{PAD}" y="{TOP - 16}" font-size="{TITLE_SIZE}">{escape(title)}</text>']
    for index, rule in enumerate(rules):
        body += _row(index, rule, [next((r for r in record.rules if r.rule == rule), None) for record in ordered])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="{FONT}" font-size="{SIZE}">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )
