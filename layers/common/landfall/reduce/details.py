"""What a run's report says beyond its counts, gathered as the result records stream by: the reasons
lines were rejected (each with its most frequent causes, counted, and an example of each), the objects
with the most rejections, those with no valid line at all, the rows written per partition, each
child's start and stop (the timeline), and every object's outputs — written line by line to a spooled
file, so memory does not grow with the run.
"""

from __future__ import annotations

import heapq
import tempfile
from array import array
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from landfall.process.messages import DetailCount, ObjectSummary
from landfall.reduce.messages import ObjectRejections, ReasonSummary

WORST_OBJECTS = 10
NAMED_OBJECTS = 5  # of those with no valid line, named in the warning
PARTITIONS_SHOWN = 200  # in report.json; more are summed under "other"
CAUSES_SHOWN = 5  # of a reason, in the report; the rest are summed under its `other`
# Causes of a reason told apart across the run. Each object's summary brings at most
# `quarantine.OBJECT_CAUSES` a reason, and lines rejected alike share a cause, so a run rarely has more
# than a few dozen: this many keep the shown counts exact in all but such runs (which the report flags,
# `exact: false`) while the reducer's memory stays bounded (≤ ~1 KB a cause) whatever the run holds.
RUN_CAUSES = 200


class _ObjectLine(msgspec.Struct, omit_defaults=True):
    """One line of reports/<run_id>/objects.jsonl: where an object's records went."""

    url: str
    status: str
    records: int = 0
    valid: int = 0
    rejected: int = 0
    partitions: list[str] = []  # where its rows are: its batch's files of these partitions
    quarantine: str | None = None
    error: str | None = None
    failure: str | None = None  # why its processor could not read it: corrupt, unsupported, missing, ...


@dataclass
class Children:
    """The map's children (one a batch), 25 bytes each: when each started and stopped (POSIX seconds),
    whether it failed, and how long its processor worked (-1: unknown). Its wall time beyond that
    was waiting: retries, throttles, backoff."""

    starts: array[float] = field(default_factory=lambda: array("d"))
    stops: array[float] = field(default_factory=lambda: array("d"))
    failed: bytearray = field(default_factory=bytearray)
    busy_ms: array[int] = field(default_factory=lambda: array("i"))

    def __len__(self) -> int:
        return len(self.starts)

    def add(self, started: str, stopped: str, failed: bool, busy_ms: int | None) -> None:
        self.starts.append(datetime.fromisoformat(started).timestamp())
        self.stops.append(datetime.fromisoformat(stopped).timestamp())
        self.failed.append(failed)
        self.busy_ms.append(-1 if busy_ms is None else busy_ms)


@dataclass
class _Reason:
    """Lines rejected for one reason across the run, by cause (see RUN_CAUSES)."""

    count: int = 0
    causes: dict[str, DetailCount] = field(default_factory=dict)
    exact: bool = True  # every line's cause was told apart

    def add(self, count: int, details: list[DetailCount], source: str) -> None:
        self.count += count
        if sum(detail.count for detail in details) != count:  # the object told fewer apart (OBJECT_CAUSES)
            self.exact = False
        for detail in details:
            known = self.causes.get(detail.detail)
            if known is not None:
                known.count += detail.count
            elif len(self.causes) < RUN_CAUSES:
                self.causes[detail.detail] = detail.model_copy(update={"source": source})
            else:
                self.exact = False

    def summary(self, reason: str) -> ReasonSummary:
        shown = sorted(self.causes.values(), key=lambda detail: -detail.count)[:CAUSES_SHOWN]
        other = self.count - sum(detail.count for detail in shown)
        return ReasonSummary(reason=reason, count=self.count, details=shown, other=other, exact=self.exact)


@dataclass
class RunDetails:
    reasons: dict[str, _Reason] = field(default_factory=dict)
    worst: list[tuple[int, str, int]] = field(default_factory=list)  # heap of (rejected, url, records)
    without_valid: int = 0
    named_without_valid: list[str] = field(default_factory=list)
    rows_by_partition: dict[str, int] = field(default_factory=dict)
    children: Children = field(default_factory=Children)
    objects_file: tempfile.SpooledTemporaryFile[bytes] = field(
        default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed by its reader
    )
    _encoder: msgspec.json.Encoder = field(default_factory=msgspec.json.Encoder)

    def add_object(self, obj: ObjectSummary) -> None:
        line = _ObjectLine(
            obj.url,
            obj.status,
            obj.records,
            obj.valid,
            obj.rejected,
            list(obj.rows_by_partition),
            obj.quarantine_key,
            obj.error,
            obj.failure,
        )
        self.objects_file.write(self._encoder.encode(line) + b"\n")
        if obj.status != "processed":
            return
        self._reasons(obj)
        if obj.rejected:
            entry = (obj.rejected, obj.url, obj.records)
            (heapq.heappush if len(self.worst) < WORST_OBJECTS else heapq.heappushpop)(self.worst, entry)
        if obj.records and not obj.valid:
            self.without_valid += 1
            if len(self.named_without_valid) < NAMED_OBJECTS:
                self.named_without_valid.append(obj.url)
        for partition, rows in obj.rows_by_partition.items():
            self.rows_by_partition[partition] = self.rows_by_partition.get(partition, 0) + rows

    def add_unfinished(self, url: str, status: str, error: str) -> None:
        """An object of a batch that failed or never ran."""
        self.objects_file.write(self._encoder.encode(_ObjectLine(url, status, error=error)) + b"\n")

    def _reasons(self, obj: ObjectSummary) -> None:
        for reason, count in obj.rejected_by_reason.items():
            tally = self.reasons.get(reason)
            if tally is None:
                tally = self.reasons[reason] = _Reason()
            tally.add(count, obj.rejection_details.get(reason, []), obj.url)

    def add_child(self, started: str | None, stopped: str | None, status: str, busy_ms: int | None = None) -> None:
        """A child as its ResultWriter record has it (ISO 8601 times; a child that never ran has none)."""
        if started and stopped:
            self.children.add(started, stopped, status != "SUCCEEDED", busy_ms)

    def worst_objects(self) -> list[ObjectRejections]:
        ranked = sorted(self.worst, key=lambda entry: (-entry[0], entry[1]))
        return [ObjectRejections(url=url, records=records, rejected=rejected) for rejected, url, records in ranked]

    def top_reasons(self) -> list[ReasonSummary]:
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1].count, item[0]))
        return [tally.summary(reason) for reason, tally in ranked]

    def partitions(self) -> dict[str, int]:
        ordered = sorted(self.rows_by_partition.items())
        shown = dict(ordered[:PARTITIONS_SHOWN])
        if len(ordered) > PARTITIONS_SHOWN:
            shown["other"] = sum(rows for _, rows in ordered[PARTITIONS_SHOWN:])
        return shown
