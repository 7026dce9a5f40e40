"""Fold decoded records into the job's aggregate and group them by partition, as rows of the table.

Valid records become rows of the job's table (`columnar.py`) a message at a time; a value that its
column cannot hold (an integer beyond 64 bits, say) rejects its record as `unrepresentable`, found
by halving the message, before the rest is folded. The job's fold and partitioning are user code:
only a message whose fold raises is folded again record by record to find the records at fault.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import eq
from typing import Any

from arro3.core import RecordBatch

from landfall.jobs import Job, RecordRejected
from landfall.process.columnar import ConversionError, Source, to_batch
from landfall.process.decoding import DETAIL_CHARS, Rejection, Segment, failure_detail, utf8_clipped
from landfall.table.schema import TableSchema, table_of


@dataclass(frozen=True, slots=True)
class Folded:
    """What a message's records folded to: the aggregate, the rows by partition, the records rejected."""

    aggregate: dict[str, Any]
    valid: int
    partitions: list[tuple[str, RecordBatch]]  # (partition path, its rows in the table's schema), first-seen order
    rejections: list[Rejection]
    records: list[Any]  # the valid records, as the job decoded them (for the quality rules' measures)


_Group = tuple[str, list[Any], list[int]]  # a partition's path, its records and their line numbers


@dataclass
class _Rows:
    """A message's records, their line numbers, and the segments that hold their bytes."""

    records: list[Any]
    lines: list[int]
    segments: list[Segment]

    @classmethod
    def of(cls, segments: list[Segment]) -> _Rows:
        records: list[Any] = []
        lines: list[int] = []
        for segment in segments:
            records += segment.records
            if segment.numbers is None:
                lines += range(segment.first_line, segment.first_line + len(segment.records))
            else:
                lines += segment.numbers
        return cls(records, lines, segments)

    def line_of(self, index: int) -> bytes:
        """The bytes of record `index`'s line (for a rejection: rare, so found by walking the segments)."""
        for segment in self.segments:
            if index < len(segment.records):
                return segment.line(segment.number_of(index))
            index -= len(segment.records)
        raise IndexError(index)

    def keep(self, kept: list[int]) -> None:
        self.records = [self.records[i] for i in kept]
        self.lines = [self.lines[i] for i in kept]


def fold(job: Job, segments: list[Segment], source: Source) -> Folded:
    """Fold the segments' records into a new aggregate and convert each partition's records to the
    table's rows; a record the job or its column cannot take is rejected, and the others go on."""
    rejections: list[Rejection] = []
    rows = _Rows.of(segments)
    table = table_of(job)
    while True:  # twice at most: a record no column can hold is rejected, and the others folded again
        aggregate, groups = _fold(job, rows, rejections)
        try:
            partitions = [(path, to_batch(table, records, lines, source)) for path, records, lines in groups]
        except ConversionError:
            _reject_unrepresentable(table, rows, source, rejections)
            continue
        return Folded(aggregate, len(rows.records), partitions, rejections, rows.records)


def _fold(job: Job, rows: _Rows, rejections: list[Rejection]) -> tuple[dict[str, Any], list[_Group]]:
    """Fold the rows' records (rejecting, and dropping from `rows`, those the job fails on) and group
    them by partition, in first-seen order."""
    aggregate = job.new_aggregate()
    if not rows.records:
        return aggregate, []
    try:  # once per message: the job's per-call work is paid once
        keys = _checked_keys(job.fold(aggregate, rows.records), len(rows.records))
        paths = {key: job.partition_path(key) for key in dict.fromkeys(keys)}
    except Exception:  # some record makes the job fail: find it, and fold the others again
        aggregate, keys, paths = _fold_each(job, rows, rejections)
    if len(paths) == 1:
        return aggregate, [(paths[keys[0]], rows.records, rows.lines)]
    groups = []
    for key, path in paths.items():
        selected = list(map(eq, repeat(key), keys))
        groups.append((path, list(compress(rows.records, selected)), list(compress(rows.lines, selected))))
    return aggregate, groups


def _reject_unrepresentable(table: TableSchema, rows: _Rows, source: Source, rejections: list[Rejection]) -> None:
    """Reject the records with a value their column cannot hold, found by halving, and drop them from `rows`."""
    kept: list[int] = []
    failed: list[tuple[int, str]] = []
    _bisect(table, rows, source, range(len(rows.records)), kept, failed)
    for index, detail in failed:
        rejections.append(Rejection(rows.lines[index], rows.line_of(index), "unrepresentable", detail))
    rows.keep(kept)


def _bisect(
    table: TableSchema, rows: _Rows, source: Source, indices: range, kept: list[int], failed: list[tuple[int, str]]
) -> None:
    try:
        to_batch(table, rows.records[indices.start : indices.stop], rows.lines[indices.start : indices.stop], source)
    except ConversionError as error:
        if len(indices) == 1:
            failed.append((indices.start, utf8_clipped(str(error), DETAIL_CHARS)))
            return
        middle = len(indices) // 2
        _bisect(table, rows, source, indices[:middle], kept, failed)
        _bisect(table, rows, source, indices[middle:], kept, failed)
        return
    kept += indices


def _checked_keys(keys: Sequence[Hashable], count: int) -> Sequence[Hashable]:
    if len(keys) != count:
        raise ValueError(f"the job's fold returned {len(keys)} partition keys for {count} records")
    return keys


def _fold_each(job: Job, rows: _Rows, rejections: list[Rejection]) -> tuple[dict[str, Any], list[Hashable], dict]:
    """Fold record by record into throwaway aggregates to find the records the job fails on; reject
    their lines and drop them from `rows`, then fold the rest together: (aggregate, keys, paths).
    Only a message with such a record takes this path."""
    kept: list[int] = []
    paths: dict[Hashable, str | RecordRejected] = {}
    for index, record in enumerate(rows.records):
        try:
            (key,) = _checked_keys(job.fold(job.new_aggregate(), [record]), 1)
            if key not in paths:
                paths[key] = _partition_path(job, key)
            path = paths[key]
        except Exception as error:
            path = RecordRejected("fold_error", failure_detail(error))
        if isinstance(path, RecordRejected):
            rejections.append(Rejection(rows.lines[index], rows.line_of(index), path.reason, path.detail))
        else:
            kept.append(index)
    rows.keep(kept)
    aggregate = job.new_aggregate()
    keys = list(_checked_keys(job.fold(aggregate, rows.records), len(rows.records))) if rows.records else []
    return aggregate, keys, {key: path for key, path in paths.items() if isinstance(path, str)}


def _partition_path(job: Job, key: Hashable) -> str | RecordRejected:
    try:
        return job.partition_path(key)
    except Exception as error:
        return RecordRejected("partition_error", failure_detail(error))
