"""Each rule on a run's measures: within its bound it passes, beyond it it is breached with its
severity; a drift rule against the trailing runs' records, kept one file a run, newest first; a
freshness rule only on runs whose objects arrived live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from landfall.core.observability import metrics
from landfall.jobs.quality import Drift, DuplicateShare, Freshness, NullShare, RejectedShare, RowCount
from landfall.process.profile import KeySample, Profile, arrival
from landfall.reduce import reduction
from landfall.reduce.quality import QualityRecord, RunQuality, check, check_run, read_history, write_record

ENDED = datetime(2026, 11, 22, 14, tzinfo=UTC)


def _history(values: list[float]) -> list[QualityRecord]:
    return [
        QualityRecord(run_id=f"r{n}", ended_at=ENDED - timedelta(hours=n), measures={"rows": v})
        for n, v in enumerate(values)
    ]


def test_a_rule_passes_within_its_bound_and_is_breached_beyond_it() -> None:
    profile = Profile(rows=1_000, nulls={"user_id": 420}, lag_bins={10: 990, 40: 10})
    rules = (
        RowCount(at_least=1, at_most=10_000),
        NullShare(column="user_id", at_most=0.4, severity="fail"),
        RejectedShare(at_most=0.01, reason="schema"),
        DuplicateShare(at_most=0.01),
        Freshness(statistic="p99", at_most=timedelta(minutes=1)),
    )
    quality = check_run(profile, (1_010, 1_000, {"schema": 10}), rules, [])
    outcomes = {r.rule: (r.observed, r.outcome) for r in quality.rules}
    assert outcomes["rows"] == (1_000.0, "passed")
    assert outcomes["null_share.user_id"] == (0.42, "breached") and [r.rule for r in quality.failed] == [
        "null_share.user_id"
    ]
    assert outcomes["rejected_share.schema"] == (10 / 1_010, "passed")
    assert outcomes["duplicate_share"] == (None, "no data")  # no key was sampled
    assert outcomes["lag_p99_seconds"] == (1.25**10, "passed")  # 99 % arrived within bin 10's bound (9.3 s)
    assert quality.warned == [] and quality.measures["rejected_share"] == 10 / 1_010


def test_the_lag_counts_from_the_arrival_firehose_names_else_from_the_landing() -> None:
    landed = ENDED + timedelta(days=30)  # replayed a month later: the records' lag is still their own
    named = "raw/2026/11/22/14/stream-1-2026-11-22-14-00-00-0f8fad5b-d9cb-469f-a165-70867728950e.gz"
    assert arrival(named, landed) == ENDED and arrival(named, None) == ENDED
    assert arrival("t/other/objects.jsonl", landed) == landed
    ahead = named.replace("14-00-00", "23-00-00")  # a CustomTimeZone ahead of UTC: the name is not UTC
    assert arrival(ahead, ENDED + timedelta(hours=2)) == ENDED + timedelta(hours=2)
    late = Freshness(statistic="late_share", later_than=timedelta(hours=1), share_at_most=0.0)
    assert check(late, {"late_share.3600s": 1.0}, []).outcome == "breached"


def test_drift_is_checked_against_the_trailing_runs_once_enough_ran() -> None:
    drift = Drift(of="rows", runs=10, deviations=3.0, at_least_runs=5)
    steady = _history([1_000, 1_040, 960, 1_010, 990, 1_000])
    assert check(drift, {"rows": 1_020.0}, steady[:4]).outcome == "no data"  # 4 earlier runs: too few
    assert check(drift, {"rows": 1_020.0}, steady[:6]).outcome == "passed"
    dropped = check(drift, {"rows": 100.0}, steady[:6])
    assert dropped.outcome == "breached" and dropped.bound.startswith("within 3σ of 1,000 ± ")
    flat = check(drift, {"rows": 1_005.0}, _history([1_000] * 8))
    assert flat.outcome == "passed"  # a steady history allows 1 % of its mean per deviation, not nothing


def test_drift_looks_back_on_the_runs_that_measured_it_only() -> None:
    """Runs from before the rule's measure existed (an older version of the job) are skipped, not counted."""
    drift = Drift(of="outside_share.value", runs=2, at_least_runs=2)
    older = _history([1_000] * 3)
    measured = [
        QualityRecord(run_id=f"m{n}", ended_at=ENDED, measures={"outside_share.value": v}) for n, v in enumerate((0, 0))
    ]
    assert check(drift, {"outside_share.value": 0.005}, measured[:1] + older).outcome == "no data"
    interleaved = [measured[0], *older, measured[1], *older]
    breached = check(drift, {"outside_share.value": 0.005}, interleaved)
    assert breached.outcome == "breached" and breached.bound.endswith("(2 runs)")


def test_the_trailing_runs_are_read_newest_first(s3) -> None:
    s3.create_bucket(Bucket="pipeline")
    for record in _history([1.0, 2.0, 3.0])[::-1]:  # written oldest first
        write_record(s3, "pipeline", "events", record)
    write_record(s3, "pipeline", "orders", QualityRecord(run_id="other", ended_at=ENDED, measures={}))
    assert [r.run_id for r in read_history(s3, "pipeline", "events", 2)] == ["r0", "r1"]
    sample = KeySample()
    sample.add(["a", "a"])
    assert check(DuplicateShare(at_most=0.4), {"duplicate_share": sample.duplicate_share()}, []).outcome == "breached"


def test_each_rules_metric_is_its_observed_value_and_an_infinite_lag_none() -> None:
    """EMF is JSON: an infinite value (a lag past the last bin) would make the log line, and every metric in
    it, unreadable to CloudWatch; the rule is still in the report, breached."""
    lag = Freshness(statistic="p99", at_most=timedelta(hours=6))
    quality = RunQuality(
        rules=[
            check(lag, {"lag_p99_seconds": float("inf")}, []),
            check(NullShare(column="user_id", at_most=0.5), {"null_share.user_id": 0.25}, []),
        ]
    )
    metrics.clear_metrics()
    try:
        reduction._record_quality(quality)
        published = dict(metrics.metric_set)
    finally:
        metrics.clear_metrics()
    assert quality.rules[0].outcome == "breached"
    assert "Quality lag_p99_seconds" not in published
    assert published["Quality null_share.user_id"]["Value"] == [0.25]
    assert published["QualityRulesWarned"]["Value"] == [1.0]
