"""`landfall quality` and the demo's summary show the rules run by run: a row a rule, the oldest run
first, a breach marked with its severity, a rule a run did not check left blank; the chart draws the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from landfall.reduce.quality import QualityRecord, RuleResult
from landfall.reduce.quality_chart import draw_trend
from landfall_cli.quality import trend_table

ENDED = datetime(2026, 11, 22, 14, tzinfo=UTC)


def _result(rule: str, observed: float, outcome: str = "passed") -> RuleResult:
    return RuleResult(rule=rule, measure=rule, severity="warn", observed=observed, bound="≤ 0.5", outcome=outcome)


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
