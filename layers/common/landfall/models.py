"""Every message that passes between the parts of the pipeline, each with a version field.

manifest batch → one line of a manifest (also of a redrive manifest): the objects of one child
manifest item  → one object of a manifest batch
execution input → what the manifest writer starts the state machine with
batch input    → what the Distributed Map's ItemBatcher adds to every child's input
object summary / batch summary → what the processor returns
run report     → what the reducer writes and returns
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from landfall.costs import CostEstimate
from landfall.failures import FailureCause
from landfall.layout import object_url

MESSAGE_VERSION = 3  # 2: manifests of batches, object versions; 3: curated Parquet files with their rows

Source = Literal["notification", "backfill", "redrive"]
RunStatus = Literal["SUCCEEDED", "PARTIAL", "FAILED"]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: int = MESSAGE_VERSION


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
    S3 notification, or an EventBridge event. Its records stay as they came: `landfall.notifications`
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
    """One line of a manifest: the objects one Distributed Map child processes (`landfall.batching`)."""

    bytes: int
    objects: list[ManifestItem]


class S3Location(BaseModel):
    bucket: str
    key: str


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


class BatchInput(Message):
    run_id: str
    output_bucket: str


class ProcessorEvent(BaseModel):
    """A Distributed Map child's input: the batch input plus its items."""

    model_config = ConfigDict(populate_by_name=True)

    batch_input: BatchInput = Field(alias="BatchInput")
    items: list[ManifestItem] = Field(alias="Items")


class CuratedFile(BaseModel):
    """One Parquet file of the curated table: an object's rows in one partition."""

    key: str
    rows: int
    bytes: int


class RejectionExample(BaseModel):
    """A rejected line: enough to see what went wrong."""

    line: int
    detail: str  # as the quarantine has it, values included (its first 200 characters)
    raw: str  # its first 200 characters (invalid UTF-8 replaced)


class DetailCount(BaseModel):
    """Lines rejected for one reason and cause, and the first of them. The cause is the detail without
    the line's own values (`landfall.quarantine.cause_of`), so that lines rejected alike count together."""

    detail: str
    count: int
    example: RejectionExample
    source: str | None = None  # the example's object (in the report; in an object's summary, that object)


class ObjectSummary(Message):
    bucket: str
    key: str
    version_id: str | None = None
    status: Literal["processed", "failed"]
    error: str | None = None
    failure: FailureCause | None = None  # why a failed object could not be read (`failures.REMEDIES`)
    compression: str = "none"  # as the object's bytes showed it: gzip, zip, snappy, snappy-java, hadoop-snappy
    framing: Literal["newline", "concatenated"] = "newline"
    bytes_read: int = 0
    records: int = 0
    valid: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    # per reason, its most frequent causes (at most `quarantine.OBJECT_CAUSES`, by count); the reason's
    # other lines (rejected_by_reason minus their counts) had other causes
    rejection_details: dict[str, list[DetailCount]] = Field(default_factory=dict)
    aggregates: dict[str, Any] = Field(default_factory=dict)
    curated: list[CuratedFile] = Field(default_factory=list)
    quarantine_key: str | None = None
    s3_gets: int = 0  # requests this object cost, for the run's cost
    s3_puts: int = 0

    @property
    def url(self) -> str:
        return object_url(self.bucket, self.key, self.version_id)


class BatchSummary(Message):
    """The objects are inline, or (for large batches) JSON Lines at `objects_key` in the output bucket;
    the aggregates likewise, at `aggregates_key` when they are large."""

    run_id: str
    objects: list[ObjectSummary]
    objects_key: str | None = None
    aggregates: dict[str, Any] = Field(default_factory=dict)
    aggregates_key: str | None = None  # when the aggregates are large: {"aggregates": {...}} in the output bucket
    duration_ms: int = 0
    memory_mb: int = 0  # the processor's memory size: with the duration, its GB-seconds


class BatchProgress(BaseModel):
    """A finished batch's counts (`layout.progress_key`), so that a run is followed in objects and records."""

    objects: int = 0
    processed: int = 0
    failed: int = 0
    records: int = 0
    valid: int = 0
    rejected: int = 0

    @classmethod
    def of(cls, objects: list[ObjectSummary]) -> BatchProgress:
        processed = [o for o in objects if o.status == "processed"]
        return cls(
            objects=len(objects),
            processed=len(processed),
            failed=len(objects) - len(processed),
            records=sum(o.records for o in processed),
            valid=sum(o.valid for o in processed),
            rejected=sum(o.rejected for o in processed),
        )

    def add(self, other: BatchProgress) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ObjectFailure(BaseModel):
    bucket: str
    key: str
    version_id: str | None = None
    kind: Literal["object", "batch", "pending"]
    error: str
    cause: FailureCause | None = None  # an object its processor could not read: why
    retryable: bool = True  # in the redrive manifest; False: a retry cannot fix it (see RunReport.failure_causes)

    @property
    def url(self) -> str:
        return object_url(self.bucket, self.key, self.version_id)


class Counts(BaseModel):
    """Objects of a run. Each count's title is how every view of the report names it."""

    in_manifest: int = Field(0, title="objects in manifest")
    processed: int = Field(0, title="processed")
    failed: int = Field(0, title="failed")
    failed_for_good: int = Field(0, title="failed for good")  # of the failed: a retry cannot fix them, not redriven
    pending: int = Field(0, title="pending")
    without_delimiters: int = Field(0, title="without delimiters")  # processed, records written back to back


class RecordCounts(BaseModel):
    """Records (lines) of a run's processed objects."""

    read: int = Field(0, title="records")
    valid: int = Field(0, title="valid")
    rejected: int = Field(0, title="rejected")
    written: int = Field(0, title="rows written")  # to the curated table; equal to valid
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)


class Reconciliation(BaseModel):
    ok: bool
    problems: list[str] = Field(default_factory=list)


class RunOutputs(BaseModel):
    bucket: str
    curated_prefix: str
    quarantine_prefix: str
    report_key: str
    objects_key: str | None = None  # every object's outputs (JSON Lines): curated files, quarantine, error
    timeline_key: str | None = None  # the map run's children over time (SVG)
    redrive_manifest_key: str | None = None


class ReasonSummary(BaseModel):
    """Lines rejected for one reason: its most frequent causes, each counted with an example, and the
    lines of its other causes; `count` == the details' counts + `other`."""

    reason: str
    count: int
    details: list[DetailCount] = Field(default_factory=list)
    other: int = 0
    exact: bool = True  # False: an object or the run had more causes than it tells apart, so a count may be low


class FailureCauseSummary(BaseModel):
    """Objects that failed for one cause, and what to do about them."""

    cause: FailureCause
    title: str
    objects: int
    retryable: bool  # False: not in the redrive manifest, a retry cannot fix them
    advice: str


class ObjectRejections(BaseModel):
    url: str
    records: int
    rejected: int


class AggregateTable(BaseModel):
    """A table of a job's aggregates, as the job describes them for the report (`Job.describe`)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


class RunTiming(BaseModel):
    started_at: datetime | None = None  # when its manifest was written, just before its execution started
    ended_at: datetime
    seconds: float | None = None


class RunReport(Message):
    run_id: str
    status: RunStatus
    status_reason: str = ""
    map_error: str | None = None
    job: str = ""
    timing: RunTiming | None = None
    settings: RunConfig | None = None
    objects: Counts
    records: RecordCounts
    bytes_read: int = 0
    warnings: list[str] = Field(default_factory=list)  # what someone acting on the run should look at
    rejections: list[ReasonSummary] = Field(default_factory=list)  # by count, each with an example
    rows_by_partition: dict[str, int] = Field(default_factory=dict)
    worst_objects: list[ObjectRejections] = Field(default_factory=list)  # the most rejections
    aggregates: dict[str, Any] = Field(default_factory=dict)
    aggregate_tables: list[AggregateTable] = Field(default_factory=list)
    failures: list[ObjectFailure] = Field(default_factory=list)
    failures_omitted: int = 0  # beyond the first failures listed; objects.jsonl has every one
    failure_causes: list[FailureCauseSummary] = Field(default_factory=list)  # objects that could not be read
    redrive_command: str | None = None
    reconciliation: Reconciliation
    outputs: RunOutputs
    cost: CostEstimate | None = None

    # what the reducer returns to the state machine: small, whatever the run's size
    STATE_FIELDS: ClassVar[set[str]] = {
        "version",
        "run_id",
        "status",
        "status_reason",
        "objects",
        "records",
        "reconciliation",
        "outputs",
    }


class ReducerEvent(ExecutionInput):
    """The state machine's state when it reaches the reducer."""

    map_result: dict[str, Any] | None = None
    map_error: dict[str, Any] | None = None
