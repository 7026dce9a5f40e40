"""The run's quality rules checked (`landfall.jobs.quality`): the batches' profiles added up into the run's
measures, each rule's observed value against its bound, and the drift rules against the same measures in
the trailing runs' records (`quality/<table>/`, newest first, one small file a run).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from landfall.core.layout import quality_key, quality_prefix
from landfall.jobs.quality import (
    AllowedValues,
    Drift,
    DuplicateShare,
    Freshness,
    NullShare,
    RejectedShare,
    RowCount,
    Rule,
    ValueRange,
)
from landfall.process.profile import Profile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Outcome = Literal["passed", "breached", "no data"]
HISTORY_RUNS = 1000  # the most runs a drift rule looks back on (a listing's page)
RELATIVE_FLOOR = 0.01  # a drift rule's deviation is at least 1 % of the mean: steady history is not a hair trigger


class RuleResult(BaseModel):
    """One rule on one run: what it observed, its bound, what came of it."""

    rule: str  # its label: the report's and the metric's name
    measure: str
    severity: Literal["warn", "fail"]
    observed: float | None
    bound: str  # the rule's bound in words, e.g. "≤ 0.05" or "within 3σ of 1,204 ± 87 (20 runs)"
    outcome: Outcome
    low: float | None = None  # the bound as numbers (None: no bound that side), for the trend chart
    high: float | None = None


class QualityRecord(BaseModel):
    """What a run leaves for the drift rules and `landfall quality` of the runs after it."""

    run_id: str
    ended_at: datetime
    measures: dict[str, float | None] = Field(default_factory=dict)
    rules: list[RuleResult] = Field(default_factory=list)


class RunQuality(BaseModel):
    """The quality section of a run's report."""

    measures: dict[str, float | None] = Field(default_factory=dict)
    rules: list[RuleResult] = Field(default_factory=list)

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.rules if r.outcome == "breached" and r.severity == "fail"]

    @property
    def warned(self) -> list[RuleResult]:
        return [r for r in self.rules if r.outcome == "breached" and r.severity == "warn"]


def measures(profile: Profile, counts: tuple[int, int, Mapping[str, int]], rules: Iterable[Rule]) -> dict:
    """Every measure the rules name (and the ones every run has), from the run's profile and counts."""
    read, valid, rejected_by_reason = counts
    values: dict[str, float | None] = {
        "rows": float(valid),
        "rejected_share": sum(rejected_by_reason.values()) / read if read else None,
    }
    for rule in rules:
        if rule.measure not in values:
            values[rule.measure] = _measure(rule, profile, read, rejected_by_reason)
    return values


def _share(count: int, of: int) -> float | None:
    return count / of if of else None


def _measure(rule: Rule, profile: Profile, read: int, rejected_by_reason: Mapping[str, int]) -> float | None:
    match rule:
        case RejectedShare(reason=reason) if reason is not None:
            return _share(rejected_by_reason.get(reason, 0), read)
        case NullShare(column=column):
            return _share(profile.nulls.get(column, 0), profile.rows)
        case ValueRange() | AllowedValues():
            return _share(profile.outside.get(rule.measure, 0), profile.rows)
        case DuplicateShare():
            return profile.keys.duplicate_share() if profile.keys is not None else None
        case Freshness(statistic="late_share"):
            return _share(profile.late.get(rule.measure.split(".", 1)[1], 0), profile.timed)
        case Freshness(statistic=statistic):
            return profile.lag_quantile(0.5 if statistic == "p50" else 0.99)
    return None  # a Drift's measure is another rule's


def _bounded(observed: float, low: float | None, high: float | None) -> bool:
    return (low is None or observed >= low) and (high is None or observed <= high)


def _words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:,.6g} … {high:,.6g}"
    return f"≥ {low:,.6g}" if low is not None else f"≤ {high:,.6g}"


def _limits(rule: Rule) -> tuple[float | None, float | None]:
    match rule:
        case RowCount(at_least=low, at_most=high):
            return low, high
        case NullShare(at_most=high) | RejectedShare(at_most=high) | DuplicateShare(at_most=high):
            return None, high
        case ValueRange(share_at_most=high) | AllowedValues(share_at_most=high):
            return None, high
        case Freshness(statistic="late_share", share_at_most=high):
            return None, high
        case Freshness(at_most=bound):
            return None, bound.total_seconds() if bound is not None else None
    raise TypeError(f"no bound for {rule!r}")


def check(rule: Rule, values: Mapping[str, float | None], history: list[QualityRecord]) -> RuleResult:
    """One rule on the run's measures (a drift rule on the trailing runs' too)."""
    observed = values.get(rule.measure)
    if isinstance(rule, Drift):
        low, high, bound = _drift_limits(rule, history)
    else:
        low, high = _limits(rule)
        bound = _words(low, high)
    if observed is None or (low is None and high is None):
        outcome: Outcome = "no data"
    else:
        outcome = "passed" if _bounded(observed, low, high) else "breached"
    return RuleResult(
        rule=rule.label,
        measure=rule.measure,
        severity=rule.severity,
        observed=observed,
        bound=bound,
        outcome=outcome,
        low=low,
        high=high,
    )


def _drift_limits(rule: Drift, history: list[QualityRecord]) -> tuple[float | None, float | None, str]:
    measured = (v for record in history if (v := record.measures.get(rule.of)) is not None)
    past = list(itertools.islice(measured, rule.runs))  # runs before the rule measured it do not count
    if len(past) < rule.at_least_runs:
        return None, None, f"{len(past)} earlier runs measured it: {rule.at_least_runs} needed"
    mean = statistics.fmean(past)
    spread = max(statistics.pstdev(past), RELATIVE_FLOOR * abs(mean))
    reach = rule.deviations * spread
    return mean - reach, mean + reach, f"within {rule.deviations:g}σ of {mean:,.6g} ± {spread:,.3g} ({len(past)} runs)"


def check_run(
    profile: Profile,
    counts: tuple[int, int, Mapping[str, int]],
    rules: tuple[Rule, ...],
    history: list[QualityRecord],
) -> RunQuality:
    """Every rule on the run (`counts`: its lines read, its valid rows, and its lines rejected by reason)."""
    values = measures(profile, counts, rules)
    return RunQuality(measures=values, rules=[check(rule, values, history) for rule in rules])


def read_history(s3_client: S3Client, bucket: str, table: str, runs: int) -> list[QualityRecord]:
    """The last `runs` runs' records of `table`, newest first (their keys sort so)."""
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=quality_prefix(table), MaxKeys=min(runs, HISTORY_RUNS))
    return [
        QualityRecord.model_validate_json(s3_client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
        for entry in listed.get("Contents", [])
    ]


def write_record(s3_client: S3Client, bucket: str, table: str, record: QualityRecord) -> str:
    key = quality_key(table, record.ended_at, record.run_id)
    s3_client.put_object(Bucket=bucket, Key=key, Body=record.model_dump_json())
    return key
