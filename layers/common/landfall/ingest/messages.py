"""The manifest writer's messages: the S3 notifications it takes in, the manifest's lines and items it
writes, and the execution input it starts the state machine with.

manifest batch  → one line of a manifest (also of a redrive manifest): the objects of one child
manifest item   → one object of a manifest batch
execution input → what the manifest writer starts the state machine with
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landfall.core.layout import object_url
from landfall.core.messages import Message, S3Location

Source = Literal["notification", "backfill", "redrive"]


class ManifestItem(Message):
    bucket: str
    key: str
    size: int = 0
    etag: str = ""
    version_id: str | None = None

    @property
    def url(self) -> str:
        return object_url(self.bucket, self.key, self.version_id)


class NotificationEvent(BaseModel):
    """What the manifest writer is invoked with: a batch of SQS messages (each an S3 notification), an
    S3 notification, or an EventBridge event. Its records stay as they came: `landfall.ingest.notifications`
    reads every shape, and SQS's partial batch response needs each record whole."""

    model_config = ConfigDict(extra="allow")

    Records: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def sqs_records(self) -> list[dict[str, Any]] | None:
        """The SQS messages, if this is a batch of them."""
        records = self.Records
        return records if records and all(r.get("eventSource") == "aws:sqs" for r in records) else None


class BatchItemFailure(BaseModel):
    itemIdentifier: str


class IngestResult(BaseModel):
    """The manifest writer's answer: SQS messages to deliver again (partial batch response), the run, and
    what the notifications named: objects, and those dropped by reason (empty, folder marker, ...)."""

    batchItemFailures: list[BatchItemFailure] = Field(default_factory=list)
    run_id: str | None = None
    objects: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)


class ManifestBatch(Message):
    """One line of a manifest: the objects one Distributed Map child processes (`landfall.ingest.batching`)."""

    bytes: int
    objects: list[ManifestItem]


class RunConfig(BaseModel):
    """How a run is cut and run: batches are cut by the manifest writer (objects and bytes of objects
    per child); concurrency and tolerance are read by the state machine through *Path fields."""

    max_concurrency: int  # children at once in this run (already within the processor's concurrency limit)
    max_items_per_batch: int
    max_batch_bytes: int
    tolerated_failure_percentage: float  # of the map's batches; the run's status counts objects
    rejected_warning_percentage: float = 5.0  # a run rejecting more of its lines is flagged in its report


class ExecutionInput(Message):
    run_id: str
    source: Source
    manifest: S3Location
    objects: int
    bytes: int
    batches: int
    output_bucket: str
    config: RunConfig
