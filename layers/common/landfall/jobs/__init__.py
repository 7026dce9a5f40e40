"""The job: what a record is, where it goes, and how records are aggregated.

A job is any object with the methods of `Job`; streaming, orchestration and reduction only talk to
this interface, so replacing the job replaces nothing else. `RecordJob` supplies what every job shares,
so that a job declares only what is its own; `__all__` is everything a job author imports. The default
job reads application events (`landfall.jobs.events`); `examples/orders_job.py` is another.

The hot path works on blocks of records, not one record at a time, so that a job can do its
per-record work in C (msgspec decoding, `map`, `Counter`) rather than in Python bytecode.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Sequence
from functools import cache, cached_property
from typing import Any, Protocol

import msgspec

from landfall.jobs.aggregate import AggregateTable
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
from landfall.table.partitioning import DAILY, HOURLY, Partitioning

__all__ = [
    "DAILY",
    "HOURLY",
    "AggregateTable",
    "AllowedValues",
    "Drift",
    "DuplicateShare",
    "Freshness",
    "Job",
    "NullShare",
    "Partitioning",
    "RecordJob",
    "RecordRejected",
    "RejectedShare",
    "RowCount",
    "Rule",
    "ValueRange",
]


class RecordRejected(ValueError):
    """A line is not a valid record. `reason` is a short code, `detail` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Job(Protocol):
    name: str  # the curated table's name too
    # The one declaration of a record (a msgspec Struct): decoding validates with it, and the table's
    # columns, the catalog and the docs' column tables are derived from it (`landfall.table.schema`).
    record_type: type[msgspec.Struct]
    partitioning: Partitioning  # how `fold`'s keys become partitions: HOURLY or DAILY event time
    record_key: str | None  # the column the `<name>_unique` view keeps one row per (None: no view)

    def decode_lines(self, data: bytes) -> list[Any]:
        """Decode newline-delimited records (blank lines skipped); raise on the first bad one."""

    def decode(self, line: bytes) -> Any:
        """Decode one line; raise RecordRejected (with a reason code) when it is not a valid record."""

    def fold(self, aggregate: dict[str, Any], records: Sequence[Any]) -> Sequence[Hashable]:
        """Add records to an aggregate; return each record's partition key, in order."""

    def partition_path(self, key: Hashable) -> str:
        """The partition of a key, like `dt=2026-11-22/hour=13` (usually `self.partitioning.path(key)`)."""

    def new_aggregate(self) -> dict[str, Any]:
        """An empty aggregate (JSON-serialisable)."""

    def describe(self, aggregate: dict[str, Any]) -> list[AggregateTable]:
        """The aggregate as tables for the run's report (a title, column names, rows)."""

    def merge(self, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
        """Merge `right` into `left` and return the result (associative, order-independent).

        Callers always use the return value and never reuse `left` afterwards, so a job may update
        `left` in place (the default job does: merging is the reducer's inner loop)."""


class RecordJob(ABC):
    """A `Job` from its declarations: a subclass declares `name`, `record_type`, `partitioning`,
    `record_key` (None: no unique view) and `fold`, and overrides what else differs.

    Lines decode into `record_type` with msgspec, a block at a time in C; a bad line is rejected with
    the reason codes every job shares (`schema`, `invalid_json`, `invalid_utf8`), so the quarantine
    reads alike whatever the job. The aggregate is a dict of sums unless the job says otherwise: it
    starts empty, merges by adding numbers key by key, and is reported as one table of its values.
    """

    name: str
    record_type: type[msgspec.Struct]
    partitioning: Partitioning
    record_key: str | None = None

    @cached_property
    def _decoder(self) -> msgspec.json.Decoder[Any]:
        # built on first use, not in __init__: a subclass's own __init__ (a dataclass's) need not call ours
        return msgspec.json.Decoder(self.record_type)

    def decode_lines(self, data: bytes) -> list[Any]:
        # msgspec's error names the bad record (`$[i]`) or byte (`(byte n)`): the processor finds the line by it
        return self._decoder.decode_lines(data)

    def decode(self, line: bytes) -> Any:
        try:
            return self._decoder.decode(line)
        except msgspec.ValidationError as error:
            raise RecordRejected("schema", str(error)) from None
        except UnicodeDecodeError:
            raise RecordRejected("invalid_utf8", "line is not valid UTF-8") from None
        except msgspec.DecodeError as error:
            if not _is_utf8(line):  # say so rather than "malformed JSON"
                raise RecordRejected("invalid_utf8", "line is not valid UTF-8") from None
            raise RecordRejected("invalid_json", str(error)) from None

    @abstractmethod
    def fold(self, aggregate: dict[str, Any], records: Sequence[Any]) -> Sequence[Hashable]:
        """Add records to an aggregate; return each record's partition key, in order."""

    def partition_path(self, key: Hashable) -> str:
        return self.partitioning.path(key)

    def new_aggregate(self) -> dict[str, Any]:
        return {}

    def merge(self, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
        """Sums: numbers add up, dicts merge key by key (a job with a minimum or a maximum says how)."""
        return _add(left, right)

    def describe(self, aggregate: dict[str, Any]) -> list[AggregateTable]:
        """Every value of the aggregate, named by its path (`revenue.EUR`), in one table."""
        rows = [[path, value] for path, value in sorted(_flattened(aggregate))]
        return [AggregateTable(title=self.name, columns=["aggregate", "value"], rows=rows)] if rows else []


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _add(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    for key, value in right.items():
        left[key] = _add(left.get(key, {}), value) if isinstance(value, dict) else left.get(key, 0) + value
    return left


def _flattened(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flattened(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


DEFAULT_JOB = "landfall.jobs.events:EventsJob"


def load_job(spec: str = DEFAULT_JOB) -> Job:
    """The job named `module:attribute` (the setting LANDFALL_JOB), built once per call."""
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"LANDFALL_JOB must look like 'package.module:JobClass', got {spec!r}")
    job = getattr(importlib.import_module(module_name), attribute)
    return job() if isinstance(job, type) else job


@cache
def job_named(spec: str) -> Job:
    """The job of this execution environment, loaded on first use and reused while warm."""
    return load_job(spec)


def default_job() -> Job:
    return load_job(DEFAULT_JOB)
