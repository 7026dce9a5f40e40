"""`landfall quality` and the demo's summary show the rules run by run: a row a rule, the oldest run
first, a breach marked with its severity, a rule a run did not check left blank; the chart draws the same."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rich.console import Console

from landfall.reduce.quality import QualityRecord, RuleResult
from landfall.reduce.quality_chart import draw_trend
from landfall_cli.quality import trend_table

ENDED = datetime(2026, 11, 22, 14, tzinfo=UTC)


def _result(rule: str, observed: float, outcome: str = "passed", **bounds: float) -> RuleResult:
    """A warn rule's result (`bounds`: its `low` and `high` as numbers, which the chart draws)."""
    return RuleResult(
        rule=rule, measure=rule, severity="warn", observed=observed, bound="≤ 0.5", outcome=outcome, **bounds
    )


def _history(*runs: list[RuleResult]) -> list[QualityRecord]:
    """Records of runs an hour apart, newest first."""
    return [
        QualityRecord(run_id=f"r{n}", ended_at=ENDED - timedelta(hours=n), rules=rules) for n, rules in enumerate(runs)
    ]


def test_each_rule_is_a_row_and_each_run_a_column_oldest_first() -> None:
    newest_first = [
        QualityRecord(
            run_id="r2",
            ended_at=ENDED,
            rules=[_result("null_share.user_id", 0.62, "breached"), _result("rows", 900)],
        ),
        QualityRecord(run_id="r1", ended_at=ENDED - timedelta(hours=1), rules=[_result("null_share.user_id", 0.1)]),
    ]
    console = Console(record=True, width=200)
    console.print(trend_table("events", newest_first))
    text = console.export_text()
    assert "events: quality rules over the last 2 runs" in text
    assert text.index("11-22 13:00") < text.index("11-22 14:00")  # the oldest run's column first
    (nulls,) = [line for line in text.splitlines() if "null_share.user_id" in line]
    assert nulls.index("0.1") < nulls.index("0.62 (warn)")  # the breach, with its severity
    (rows,) = [line for line in text.splitlines() if "│ rows" in line]
    assert "–" in rows and "900" in rows  # the older run did not measure it
    svg = draw_trend(newest_first)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and 'fill="#d62728"' in svg


def test_the_chart_draws_each_rules_bound_where_its_values_are() -> None:
    """A fixed bound is a flat dashed line; a drift rule's bound moves with its trailing runs; a breach is
    a red dot beyond the line, a passed value a blue dot inside it."""
    newest_first = _history(
        *(
            [
                _result("null_share.user_id", observed, "breached" if observed > 0.5 else "passed", high=0.5),
                _result("drift.rows", 1_000.0, low=900.0 + n, high=1_100.0 - n),
            ]
            for n, observed in enumerate((0.62, 0.1, 0.2))
        )
    )
    svg = draw_trend(newest_first)
    dashed = [line for line in svg.splitlines() if "stroke-dasharray" in line]
    assert len(dashed) == 3  # the null share's high; the drift's low and high
    heights = [{float(p.split(",")[1]) for p in re.search(r'points="([^"]+)"', d)[1].split()} for d in dashed]
    assert len(heights[0]) == 1 and len(heights[1]) == len(heights[2]) == 3  # flat; moving
    (bound_y,) = heights[0]
    dots = re.findall(r'<circle cx="[^"]+" cy="([^"]+)" r="3" fill="([^"]+)"/>', svg)[:3]  # the null share's
    assert [colour for _, colour in dots] == ["#1f77b4", "#1f77b4", "#d62728"]  # oldest first: 0.2, 0.1, 0.62
    assert all(float(y) > bound_y for y, _ in dots[:2]) and float(dots[2][0]) < bound_y  # below, then above


def test_a_lag_beyond_the_last_bin_is_left_out_of_the_chart_not_drawn_at_infinity() -> None:
    """A backfill of years-old events has an infinite p99 lag (past the last bin): the other runs are drawn."""
    newest_first = _history(
        *(
            [_result("lag_p99_seconds", observed, "breached" if observed > 21_600 else "passed", high=21_600.0)]
            for observed in (float("inf"), 600.0, 900.0)
        )
    )
    svg = draw_trend(newest_first)
    assert "nan" not in svg and "inf" not in svg
    assert svg.count("<circle") == 2 and svg.count("stroke-dasharray") == 1
