"""What a job's quality rules need (`landfall.jobs.quality`), measured in the processor's one pass: per
message of valid records, counters and bounded samples that add up across messages, objects and batches
in any order, so that the reducer checks the run's rules from its batches' profiles alone.

- nulls: from the Arrow columns' null counts (no Python per value);
- values outside a range or an allowed set: a column's values read once with `attrgetter`, a range
  checked by its minimum and maximum first (C), counted one by one only when they cross it;
- lag (event time to the object's landing in S3): the event-time column's microseconds sorted (the
  records mostly come in order: Timsort's best case) and counted into fixed bins by bisection, with the
  exact count later than each bound a rule names;
- duplicates of the record key: a sample of the keys chosen by their CRC-32 (every copy of a sampled key
  is sampled too), each with its count; when it outgrows `SAMPLE_KEYS` its bound halves.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import Counter
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from hashlib import blake2b
from itertools import compress
from operator import attrgetter
from typing import Any, cast

from arro3.core import DataType, RecordBatch
from pydantic import BaseModel, Field

from landfall.jobs import Job
from landfall.jobs.quality import AllowedValues, DuplicateShare, Freshness, NullShare, Rule, ValueRange, checked_rules
from landfall.table.schema import Kind, TableSchema, table_of

SAMPLE_KEYS = 1024  # distinct keys a sample holds at most: a duplicate share within about ±3 % of itself
CRC_SPACE = 1 << 32
# the lag histogram's bins: upper bounds in seconds, ×1.25 apart from 1 s to about 2 years, then the rest
LAG_BOUNDS: tuple[float, ...] = tuple(1.25**n for n in range(81))
LAG_POINTS = 1024  # a message's lag quantiles come from this many of its rows at most, evenly spread
_INT64 = DataType.int64()  # a timestamp[us] column's values, as its microseconds


class KeySample(BaseModel):
    """Record keys whose CRC-32 is under `bound`, by `crc:digest` (32 bits of BLAKE2b more), with their counts."""

    bound: int = CRC_SPACE
    counts: dict[str, int] = Field(default_factory=dict)

    def add(self, keys: Sequence[str]) -> None:
        encoded = list(map(str.encode, keys))
        crcs = list(map(zlib.crc32, encoded))
        if len(crcs) * self.bound > 2 * SAMPLE_KEYS * CRC_SPACE:  # a sample this full would shrink: bound it first
            ordered = sorted(crcs)
            while bisect.bisect_left(ordered, self.bound) > SAMPLE_KEYS:
                self.bound //= 2
            self._keep_under_bound()
        counts = self.counts
        # a small share of the keys, chosen in C: each copy of a chosen key is chosen too
        for crc, key in compress(zip(crcs, encoded, strict=True), map(self.bound.__gt__, crcs)):
            name = f"{crc:08x}:{blake2b(key, digest_size=4).hexdigest()}"
            counts[name] = counts.get(name, 0) + 1
        self._shrink()

    def merge(self, other: KeySample) -> None:
        if other.bound < self.bound:
            self.bound = other.bound
            self._keep_under_bound()
        for name, count in other.counts.items():
            if int(name[:8], 16) < self.bound:
                self.counts[name] = self.counts.get(name, 0) + count
        self._shrink()

    def _keep_under_bound(self) -> None:
        self.counts = {name: n for name, n in self.counts.items() if int(name[:8], 16) < self.bound}

    def _shrink(self) -> None:
        while len(self.counts) > SAMPLE_KEYS:
            self.bound //= 2
            self._keep_under_bound()

    def duplicate_share(self) -> float | None:
        """The share of rows that repeat a key another row has (None: no key sampled)."""
        rows = sum(self.counts.values())
        return (rows - len(self.counts)) / rows if rows else None


class Profile(BaseModel):
    """A part of a run's records, measured for its rules; `merge` adds another part."""

    rows: int = 0
    nulls: dict[str, int] = Field(default_factory=dict)  # column → rows where it is null
    outside: dict[str, int] = Field(default_factory=dict)  # rule measure → rows outside its range or set
    timed: int = 0  # rows with an event time: what the lag's shares are of
    lag_bins: dict[int, float] = Field(default_factory=dict)  # index into LAG_BOUNDS (len: beyond) → rows, estimated
    late: dict[str, int] = Field(default_factory=dict)  # a rule's bound ("21600s") → rows later than it
    keys: KeySample | None = None

    def merge(self, other: Profile) -> Profile:
        self.rows += other.rows
        self.timed += other.timed
        for mine, theirs in ((self.nulls, other.nulls), (self.outside, other.outside), (self.late, other.late)):
            for name, count in theirs.items():
                mine[name] = mine.get(name, 0) + count
        for index, rows in other.lag_bins.items():
            self.lag_bins[index] = self.lag_bins.get(index, 0.0) + rows
        if other.keys is not None:
            if self.keys is None:
                self.keys = KeySample()
            self.keys.merge(other.keys)
        return self

    def lag_quantile(self, share: float) -> float | None:
        """The lag (seconds) at or under which `share` of the rows arrived: the upper bound of its bin."""
        total = sum(self.lag_bins.values())
        if not total:
            return None
        seen = 0.0
        for index in sorted(self.lag_bins):
            seen += self.lag_bins[index]
            if seen >= share * total:
                return LAG_BOUNDS[index] if index < len(LAG_BOUNDS) else float("inf")
        return float("inf")


class Profiler:
    """The measuring a job's rules need, set up once per job (`profiler_of`)."""

    def __init__(self, table: TableSchema, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        attributes = {c.name: c.attribute for c in table.record_columns if c.attribute is not None}
        self.nulls = sorted({r.column for r in rules if isinstance(r, NullShare)})
        self.ranges = [(r.measure, attrgetter(attributes[r.column]), r) for r in rules if isinstance(r, ValueRange)]
        self.allowed = [(r.measure, attrgetter(attributes[r.column]), r) for r in rules if isinstance(r, AllowedValues)]
        freshness = [r for r in rules if isinstance(r, Freshness)]
        self.time_column = _time_column(table) if freshness else None
        self.late_bounds = sorted({int(r.later_than.total_seconds()) for r in freshness if r.later_than is not None})
        has_key = any(isinstance(r, DuplicateShare) for r in rules) and table.key is not None
        self.key = attrgetter(attributes[table.key]) if has_key and table.key else None
        self.key_nullable = any(c.nullable for c in table.record_columns if c.name == table.key)

    @property
    def idle(self) -> bool:
        return not (self.nulls or self.ranges or self.allowed or self.time_column or self.key)

    def profile(
        self,
        records: Sequence[Any],
        batches: Sequence[RecordBatch],
        landed: datetime | None,
        key_bound: int = CRC_SPACE,
    ) -> Profile:
        """The profile of a message's valid records (`batches`: the same records as the table's rows;
        `key_bound`: the bound of the key sample it will be merged into, so that few keys are hashed)."""
        profile = Profile(rows=len(records))
        if self.idle or not records:
            return profile
        for column in self.nulls:
            profile.nulls[column] = sum(batch.column(column).null_count for batch in batches)
        for measure, value_of, rule in self.ranges:
            profile.outside[measure] = _outside_range(list(map(value_of, records)), rule)
        for measure, value_of, allowed in self.allowed:
            counts = Counter(map(value_of, records))
            profile.outside[measure] = sum(n for v, n in counts.items() if v is not None and v not in allowed.values)
        if self.time_column is not None and landed is not None:
            self._lags(profile, batches, landed)
        if self.key is not None:
            profile.keys = KeySample(bound=key_bound)
            keys = list(map(self.key, records))
            profile.keys.add([key for key in keys if key is not None] if self.key_nullable else keys)
        return profile

    def _lags(self, profile: Profile, batches: Sequence[RecordBatch], landed: datetime) -> None:
        landed_us = int(landed.timestamp() * 1_000_000)
        stamps = _microseconds(batches, self.time_column)
        if not stamps:
            return
        profile.timed += len(stamps)
        for bound in self.late_bounds:  # exact, in C: the rows whose event is more than `bound` before landing
            profile.late[f"{bound}s"] = sum(map((landed_us - bound * 1_000_000).__gt__, stamps))
        points = sorted(stamps[:: max(1, len(stamps) // LAG_POINTS)])  # the quantiles' sample: sorting is the cost
        weight, below = len(stamps) / len(points), len(points)  # points at or after `landed - bound` are within it
        for index, bound_s in enumerate(LAG_BOUNDS):
            first = bisect.bisect_left(points, landed_us - int(bound_s * 1_000_000))
            if first < below:
                profile.lag_bins[index] = profile.lag_bins.get(index, 0.0) + (below - first) * weight
                below = first
            if not below:
                return
        profile.lag_bins[len(LAG_BOUNDS)] = profile.lag_bins.get(len(LAG_BOUNDS), 0.0) + below * weight


# Firehose names an object `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>`, the time being the arrival
# (at Firehose, UTC unless the stream sets CustomTimeZone) of the object's oldest record
_FIREHOSE_NAME = re.compile(
    r"-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[^/]*$"
)


def arrival(key: str, last_modified: datetime | None) -> datetime | None:
    """When an object's records arrived: the time in its Firehose name, else when it landed in S3. A
    replayed or backfilled Firehose object keeps its arrival, so its lag is its records' own."""
    found = _FIREHOSE_NAME.search(key)
    if found is None:
        return last_modified
    year, month, day, hour, minute, second = map(int, found.groups())
    try:
        named = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # not a date after all
        return last_modified
    return named if last_modified is None or named <= last_modified + timedelta(minutes=1) else last_modified


def _outside_range(values: list[Any], rule: ValueRange) -> int:
    present = [v for v in values if v is not None] if None in values else values
    if not present:
        return 0
    low = rule.at_least if rule.at_least is not None else float("-inf")
    high = rule.at_most if rule.at_most is not None else float("inf")
    if low <= min(present) and max(present) <= high:  # the usual case: nothing outside, in C
        return 0
    return sum(1 for v in present if not low <= v <= high)


def _time_column(table: TableSchema) -> str | None:
    named = table.partitioning.column if table.partitioning else None
    if named is not None:
        return named
    stamps = [c.name for c in table.record_columns if c.kind is Kind.TIMESTAMP]
    return stamps[0] if len(stamps) == 1 else None


def _microseconds(batches: Sequence[RecordBatch], column: str | None) -> list[int]:
    """The non-null values of a timestamp[us] column, as integers (its Arrow buffer read as int64)."""
    values: list[int] = []
    if column is None:
        return values
    for batch in batches:
        array = batch.column(column)
        if array.null_count:
            values += [int(v.timestamp() * 1_000_000) for v in array.to_pylist() if v is not None]
        else:
            as_int64: Any = array.cast(_INT64)  # arro3's stubs lack Array.buffer
            values += memoryview(as_int64.buffer()).cast("q").tolist()[: len(array)]
    return values


def profiler_of(job: Job) -> Profiler:
    """The job's profiler, its rules checked (a bad rule fails the cold start with its job's and its own name)."""
    return _profiler(cast("Hashable", job))  # a job is an object of its own: hashed by identity


@cache
def _profiler(job: Any) -> Profiler:
    table = table_of(job)
    numeric = tuple(c.name for c in table.record_columns if c.kind in (Kind.INT, Kind.FLOAT))
    columns = tuple(c.name for c in table.record_columns)
    rules = checked_rules(job.name, getattr(job, "quality", ()), columns, table.key, numeric)
    return Profiler(table, rules)
