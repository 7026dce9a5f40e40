"""Data-quality rules a job declares beside its record type: what a healthy run looks like.

A record is valid or not; a run can be unhealthy with every record valid: a tenth of the usual events,
`user_id` suddenly 40 % null, duplicates rising, data arriving hours late. A job lists its rules as
`quality = (...)`; the processor measures what they need in its one pass over the records (counters and
bounded sketches, never a list of records), the reducer adds the measures up and checks each rule, and
the run's report says each rule's observed value, its bound and its outcome. A breached rule of severity
`warn` adds a warning to the run; of severity `fail` it fails the run (its rows are still committed: they
are valid records, and a later run does not bring them again).

Each rule names one *measure* (`Rule.measure`), the run-level figure it bounds; `Drift` bounds a measure
against the same measure in the trailing runs' reports, as Glue Data Quality's anomaly detection does.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Literal

import msgspec

Severity = Literal["warn", "fail"]
ALWAYS_MEASURED = frozenset({"rows", "rejected_share"})  # every run's, whatever its rules
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class QualityRuleError(ValueError):
    """A rule the job declares cannot be checked (raised at cold start, with the job's and the rule's names)."""


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """What every rule has: how bad a breach is, and the name the report and the metric use."""

    severity: Severity = "warn"
    name: str = ""  # empty: the measure's name

    @property
    def measure(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return self.name or self.measure


class RowCount(Rule, frozen=True, kw_only=True):
    """The run's valid rows within bounds (an empty hour, or a flood)."""

    at_least: int | None = None
    at_most: int | None = None

    @property
    def measure(self) -> str:
        return "rows"


class NullShare(Rule, frozen=True, kw_only=True):
    """The share of the run's rows whose `column` is null."""

    column: str
    at_most: float

    @property
    def measure(self) -> str:
        return f"null_share.{self.column}"


class RejectedShare(Rule, frozen=True, kw_only=True):
    """The share of the run's lines rejected (for one `reason`, or for any)."""

    at_most: float
    reason: str | None = None

    @property
    def measure(self) -> str:
        return f"rejected_share.{self.reason}" if self.reason else "rejected_share"


class DuplicateShare(Rule, frozen=True, kw_only=True):
    """The share of the run's rows whose record key another row of the run has too (copies beyond the
    first; estimated from a sample of keys chosen by their hash, so every copy of a sampled key is in it)."""

    at_most: float

    @property
    def measure(self) -> str:
        return "duplicate_share"


class ValueRange(Rule, frozen=True, kw_only=True):
    """The share of the run's rows whose numeric `column` is outside [at_least, at_most] (nulls are not)."""

    column: str
    at_least: float | None = None
    at_most: float | None = None
    share_at_most: float = 0.0

    @property
    def measure(self) -> str:
        return f"outside_share.{self.column}"


class AllowedValues(Rule, frozen=True, kw_only=True):
    """The share of the run's rows whose `column` holds a value not in `values` (nulls are not)."""

    column: str
    values: frozenset[str]
    share_at_most: float = 0.0

    @property
    def measure(self) -> str:
        return f"disallowed_share.{self.column}"


LagStatistic = Literal["p50", "p99", "late_share"]


class Freshness(Rule, frozen=True, kw_only=True):
    """How late the run's records arrived: the lag from their event time to their object's landing in S3.
    `statistic` p50 or p99 is bounded by `at_most`; `late_share` bounds the share later than `later_than`."""

    statistic: LagStatistic = "p99"
    at_most: timedelta | None = None
    later_than: timedelta | None = None
    share_at_most: float = 0.0

    @property
    def measure(self) -> str:
        if self.statistic == "late_share":
            return f"late_share.{int(self.later_than.total_seconds()) if self.later_than else 0}s"
        return f"lag_{self.statistic}_seconds"


class Drift(Rule, frozen=True, kw_only=True):
    """The run's value of another rule's measure within `deviations` standard deviations of its mean
    over the last `runs` runs that measured it (checked once `at_least_runs` have)."""

    of: str  # a measure: "rows", "null_share.user_id", ... (`Rule.measure` of the rule it watches)
    runs: int = 20
    deviations: float = 3.0
    at_least_runs: int = 5

    @property
    def measure(self) -> str:
        return self.of

    @property
    def label(self) -> str:
        return self.name or f"drift.{self.of}"


def _share(value: float, what: str) -> None:
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise QualityRuleError(f"{what} is a share, between 0 and 1: {value}")


def _bounds(low: float | None, high: float | None) -> None:
    if low is None and high is None:
        raise QualityRuleError("give at_least, at_most or both")
    if low is not None and high is not None and low > high:
        raise QualityRuleError(f"at_least {low} is above at_most {high}")


def _column(rule: Rule, column: str, columns: tuple[str, ...]) -> None:
    if column not in columns:
        raise QualityRuleError(f"no column {column!r} (the record's columns: {', '.join(columns)})")


def check_rule(
    rule: Rule, columns: tuple[str, ...], record_key: str | None, numeric: tuple[str, ...] | None = None
) -> None:
    """Raise QualityRuleError saying what is wrong with `rule` for a record of `columns` (`numeric`: those
    of them that hold numbers, None: not known)."""
    match rule:
        case RowCount(at_least=low, at_most=high):
            _bounds(low, high)
        case NullShare(column=column, at_most=share):
            _column(rule, column, columns)
            _share(share, "at_most")
        case RejectedShare(at_most=share, reason=reason):
            _share(share, "at_most")
            if reason is not None and not _REASON.match(reason):
                raise QualityRuleError(f"reason {reason!r} is not a rejection reason code (e.g. schema)")
        case DuplicateShare(at_most=share):
            _share(share, "at_most")
            if record_key is None:
                raise QualityRuleError("the job has no record_key: nothing to be duplicated")
        case ValueRange(column=column, at_least=low, at_most=high, share_at_most=share):
            _column(rule, column, columns)
            _bounds(low, high)
            _share(share, "share_at_most")
            if numeric is not None and column not in numeric:  # a string or a time compared with a number
                raise QualityRuleError(f"column {column!r} holds no numbers (numeric columns: {', '.join(numeric)})")
        case AllowedValues(column=column, values=values, share_at_most=share):
            _column(rule, column, columns)
            if not values:
                raise QualityRuleError("values is empty: every value would be disallowed")
            _share(share, "share_at_most")
        case Freshness():
            _check_freshness(rule)
        case Drift():
            _check_drift(rule)
        case _:
            raise QualityRuleError(f"{type(rule).__name__} is not a rule Landfall knows")


def _check_freshness(rule: Freshness) -> None:
    if rule.statistic == "late_share":
        if rule.later_than is None or rule.later_than <= timedelta(0):
            raise QualityRuleError("late_share needs later_than, a positive timedelta")
        _share(rule.share_at_most, "share_at_most")
    elif rule.at_most is None or rule.at_most <= timedelta(0):
        raise QualityRuleError(f"{rule.statistic} needs at_most, a positive timedelta")


def _check_drift(rule: Drift) -> None:
    if not 2 <= rule.at_least_runs <= rule.runs <= 1000:
        raise QualityRuleError(f"need 2 <= at_least_runs <= runs <= 1000: {rule.at_least_runs}, {rule.runs}")
    if not rule.deviations > 0:
        raise QualityRuleError(f"deviations must be positive: {rule.deviations}")


def checked_rules(
    job_name: str,
    rules: object,
    columns: tuple[str, ...],
    record_key: str | None,
    numeric: tuple[str, ...] | None = None,
) -> tuple[Rule, ...]:
    """The job's rules, each checked; the first bad one raises, named with its job and position."""
    if not isinstance(rules, tuple | list):
        raise QualityRuleError(f"job {job_name}: quality must be a tuple of rules, not {type(rules).__name__}")
    labels: set[str] = set()
    watched = [rule for rule in rules if isinstance(rule, Rule) and not isinstance(rule, Drift)]
    measured = ALWAYS_MEASURED | {rule.measure for rule in watched}
    for number, rule in enumerate(rules, 1):
        where = f"job {job_name}, quality rule {number} ({rule!r})"
        if not isinstance(rule, Rule):
            raise QualityRuleError(f"{where}: not a rule (landfall.jobs.quality)")
        try:
            check_rule(rule, columns, record_key, numeric)
        except QualityRuleError as error:
            raise QualityRuleError(f"{where}: {error}") from None
        if isinstance(rule, Drift) and rule.of not in measured:
            raise QualityRuleError(f"{where}: no rule measures {rule.of!r} (measured: {', '.join(sorted(measured))})")
        if rule.label in labels:
            raise QualityRuleError(f"{where}: a second rule named {rule.label!r}: give one a name")
        labels.add(rule.label)
    return tuple(rules)
