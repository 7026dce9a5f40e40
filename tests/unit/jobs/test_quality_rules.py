"""A job's quality rules are checked once, at cold start: a rule that cannot be checked says which job,
which rule and why, in one line; the default job's and the orders example's rules are sound."""

from __future__ import annotations

from datetime import timedelta

import pytest

from examples.orders_job import OrdersJob
from landfall.jobs import default_job
from landfall.jobs.quality import (
    AllowedValues,
    Drift,
    DuplicateShare,
    Freshness,
    NullShare,
    QualityRuleError,
    RejectedShare,
    RowCount,
    ValueRange,
    checked_rules,
)
from landfall.process.profile import profiler_of

COLUMNS = ("event_id", "ts", "type", "value", "user_id")


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (NullShare(column="usr_id", at_most=0.1), "no column 'usr_id' (the record's columns: event_id, ts"),
        (NullShare(column="user_id", at_most=1.5), "at_most is a share, between 0 and 1: 1.5"),
        (RowCount(), "give at_least, at_most or both"),
        (RowCount(at_least=10, at_most=5), "at_least 10 is above at_most 5"),
        (RejectedShare(at_most=0.1, reason="Not A Reason"), "is not a rejection reason code"),
        (ValueRange(column="value", share_at_most=0.1), "give at_least, at_most or both"),
        (AllowedValues(column="type", values=frozenset()), "values is empty"),
        (Freshness(statistic="late_share", share_at_most=0.1), "late_share needs later_than"),
        (Freshness(statistic="p99"), "p99 needs at_most, a positive timedelta"),
        (Drift(of="rows", runs=3, at_least_runs=5), "need 2 <= at_least_runs <= runs <= 1000: 5, 3"),
        (Drift(of="null_share.user_id"), "no rule measures 'null_share.user_id' (measured: rejected_share, rows)"),
    ],
)
def test_a_rule_that_cannot_be_checked_is_refused_with_its_job_and_its_place(rule, says) -> None:
    with pytest.raises(QualityRuleError) as refused:
        checked_rules("events", (RowCount(at_least=1), rule), COLUMNS, "event_id")
    assert str(refused.value).startswith(f"job events, quality rule 2 ({rule!r}): ")
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_a_range_is_of_a_column_of_numbers() -> None:
    """Else its values would meet a number in a comparison: a batch failed for a rule, not a refused deploy."""
    with pytest.raises(QualityRuleError, match=r"column 'user_id' holds no numbers \(numeric columns: value\)"):
        checked_rules("events", (ValueRange(column="user_id", at_most=1.0),), COLUMNS, "event_id", ("value",))


def test_rules_need_a_key_to_count_duplicates_and_distinct_names() -> None:
    with pytest.raises(QualityRuleError, match="the job has no record_key"):
        checked_rules("orders", (DuplicateShare(at_most=0.1),), COLUMNS, None)
    twice = (NullShare(column="user_id", at_most=0.1), NullShare(column="user_id", at_most=0.2))
    with pytest.raises(QualityRuleError, match="a second rule named 'null_share.user_id': give one a name"):
        checked_rules("events", twice, COLUMNS, "event_id")
    named = (twice[0], NullShare(column="user_id", at_most=0.2, name="user_id mostly known", severity="fail"))
    assert checked_rules("events", named, COLUMNS, "event_id") == named
    with pytest.raises(QualityRuleError, match="quality must be a tuple of rules, not dict"):
        checked_rules("events", {"rows": 1}, COLUMNS, "event_id")
    with pytest.raises(QualityRuleError, match=r"quality rule 1 \('rows >= 1'\): not a rule"):
        checked_rules("events", ("rows >= 1",), COLUMNS, "event_id")


def test_the_shipped_jobs_rules_are_sound_and_each_measures_something() -> None:
    for job in (default_job(), OrdersJob()):
        rules = profiler_of(job).rules
        assert rules and len({rule.label for rule in rules}) == len(rules)
    late = Freshness(statistic="late_share", later_than=timedelta(hours=6), share_at_most=0.01)
    assert (late.measure, Freshness(statistic="p50", at_most=timedelta(1)).measure) == (
        "late_share.21600s",
        "lag_p50_seconds",
    )
    assert Drift(of="rows").label == "drift.rows" and Drift(of="rows", name="volume").label == "volume"
