"""The job: what a record is, where it goes, and how records are aggregated.

A job is any object with the methods of `Job`; streaming, orchestration and reduction only talk to
this interface, so replacing the job replaces nothing else. The default job reads application events
(`landfall.jobs.events`); the README shows how to write another.

The hot path works on blocks of records, not one record at a time, so that a job can do its
per-record work in C (msgspec decoding, `map`, `Counter`) rather than in Python bytecode.
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable, Sequence
from functools import cache
from typing import Any, Protocol

import msgspec

from landfall.jobs.aggregate import AggregateTable
from landfall.table.partitioning import DAILY, HOURLY, Partitioning

__all__ = ["DAILY", "HOURLY", "AggregateTable", "Job", "Partitioning", "RecordRejected", "load_job"]


class RecordRejected(ValueError):
    """A line is not a valid record. `reason` is a short code, `detail` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Job(Protocol):
    name: str  # the curated table's name too
    # The one declaration of a record (a msgspec Struct): decoding validates with it, and the table's
    # columns, the catalog and the README's column table are derived from it (`landfall.table.schema`).
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
