"""The default job with a rule of every kind (its table and records unchanged): what `test_quality` runs
on the emulator, its processor and reducer pointed here by `LANDFALL_JOB`."""

from __future__ import annotations

from datetime import timedelta

from landfall.jobs import (
    AllowedValues,
    Drift,
    DuplicateShare,
    Freshness,
    NullShare,
    RejectedShare,
    RowCount,
    ValueRange,
)
from landfall.jobs.events import EventsJob

SPEC = "tests.integration.every_rule_job:EveryRuleJob"


class EveryRuleJob(EventsJob):
    quality = (
        RowCount(at_least=100, severity="fail"),
        NullShare(column="user_id", at_most=0.5),
        RejectedShare(at_most=0.05),
        RejectedShare(reason="schema", at_most=0.02),
        DuplicateShare(at_most=0.02, severity="fail"),
        ValueRange(column="value", at_least=0, at_most=100, share_at_most=0.01),
        AllowedValues(column="type", values=frozenset({"page_view", "click", "purchase"}), share_at_most=0.01),
        Freshness(statistic="p50", at_most=timedelta(hours=2)),
        Freshness(statistic="p99", at_most=timedelta(hours=6)),
        Freshness(statistic="late_share", later_than=timedelta(hours=6), share_at_most=0.01),
        # only this job measures values out of range: its trailing runs are this test's own
        Drift(of="outside_share.value", runs=2, at_least_runs=2),
    )
