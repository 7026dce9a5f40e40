"""The job: what a record is, where it goes, and how records are aggregated.

A job is any object with the methods of `Job`. Streaming, orchestration and reduction only talk to
this interface, so replacing the job replaces nothing else. `default_job()` is the application-event
job described in the README.
"""

from __future__ import annotations

from typing import Any, Protocol


class RecordRejected(ValueError):
    """A line is not a valid record. `reason` is a short code, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Job(Protocol):
    name: str

    def decode(self, line: bytes) -> Any:
        """Decode and validate one line; raise RecordRejected when it is not a valid record."""

    def partition(self, record: Any) -> str:
        """The curated-output partition of a record, a relative S3 prefix like `dt=…/hour=…`."""

    def new_aggregate(self) -> dict[str, Any]:
        """An empty aggregate (JSON-serialisable)."""

    def add(self, aggregate: dict[str, Any], record: Any) -> None:
        """Fold one valid record into an aggregate."""

    def merge(self, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
        """Merge two aggregates into a new one (associative, order-independent)."""


def default_job() -> Job:
    from landfall.jobs.events import EventsJob

    return EventsJob()
