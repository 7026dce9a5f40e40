"""The one model of a run's counts: a batch's progress marker, the reducer's tally and the report's
count tables are all `Counts`, added up object by object or batch by batch.

Plain dataclasses, not pydantic models: the reducer adds every object of a run, and a dataclass's
attribute write costs a fifth of a model's. The report (a pydantic model) holds them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec

from landfall.process.messages import ObjectSummary


def _count(title: str) -> Any:
    return field(default=0, metadata={"title": title})  # each count's title is how every view names it


@dataclass(slots=True)
class ObjectCounts:
    """Objects of a run (or of a batch: `in_manifest` is then 0)."""

    in_manifest: int = _count("objects in manifest")
    processed: int = _count("processed")
    failed: int = _count("failed")
    failed_for_good: int = _count("failed for good")  # of the failed: a retry cannot fix them, not redriven
    pending: int = _count("pending")
    without_delimiters: int = _count("without delimiters")  # processed, records written back to back


@dataclass(slots=True)
class RecordCounts:
    """Records (lines) of the processed objects."""

    read: int = _count("records")
    valid: int = _count("valid")
    rejected: int = _count("rejected")
    written: int = _count("rows written")  # to the curated table; equal to valid
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Counts:
    objects: ObjectCounts = field(default_factory=ObjectCounts)
    records: RecordCounts = field(default_factory=RecordCounts)

    @classmethod
    def of(cls, summaries: Iterable[ObjectSummary]) -> Counts:
        """A batch's counts, from its objects' summaries."""
        counts = cls()
        for summary in summaries:
            if summary.status == "processed":
                counts.add_processed(summary)
            else:
                counts.objects.failed += 1
        return counts

    def add_processed(self, summary: ObjectSummary) -> int:
        """Count a processed object; returns the rows it wrote to the table."""
        objects, records = self.objects, self.records
        objects.processed += 1
        objects.without_delimiters += summary.framing == "concatenated"
        records.read += summary.records
        records.valid += summary.valid
        records.rejected += summary.rejected
        for reason, n in summary.rejected_by_reason.items():
            records.rejected_by_reason[reason] = records.rejected_by_reason.get(reason, 0) + n
        written = sum(summary.rows_by_partition.values())
        records.written += written
        return written

    def add(self, other: Counts) -> None:
        """Add another run's or batch's counts, field by field."""
        for mine, theirs in ((self.objects, other.objects), (self.records, other.records)):
            for name, value in _counts(theirs):
                setattr(mine, name, getattr(mine, name) + value)
        for reason, n in other.records.rejected_by_reason.items():
            self.records.rejected_by_reason[reason] = self.records.rejected_by_reason.get(reason, 0) + n

    def to_json(self) -> bytes:
        """A batch's progress marker (`layout.progress_key`): the CLI follows a run by adding them up."""
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes) -> Counts:
        return msgspec.json.decode(data, type=cls)

    @property
    def done(self) -> int:
        """Objects processed or failed."""
        return self.objects.processed + self.objects.failed

    def rows(self) -> list[tuple[str, int]]:
        """(title, value) of every count, objects then records, in the order of their fields."""
        return [
            (f.metadata["title"], getattr(group, f.name))
            for group in (self.objects, self.records)
            for f in fields(group)
            if "title" in f.metadata
        ]


def _counts(group: ObjectCounts | RecordCounts) -> list[tuple[str, int]]:
    return [(f.name, getattr(group, f.name)) for f in fields(group) if "title" in f.metadata]
