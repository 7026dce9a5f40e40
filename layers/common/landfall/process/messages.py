"""The processor's messages: a Distributed Map child's input, and the object and batch summaries it
returns (the reducer reads them back from the map's result files).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landfall.core.layout import object_url
from landfall.core.messages import Message
from landfall.ingest.messages import ManifestItem
from landfall.process.failures import FailureCause
from landfall.process.formats import Compression, Framing
from landfall.process.profile import Profile


class BatchInput(Message):
    run_id: str
    output_bucket: str


class ProcessorEvent(BaseModel):
    """A Distributed Map child's input: the batch input plus its items."""

    model_config = ConfigDict(populate_by_name=True)

    batch_input: BatchInput = Field(alias="BatchInput")
    items: list[ManifestItem] = Field(alias="Items")


class CuratedFile(BaseModel):
    """One Parquet file of the curated table: a batch's rows in one partition."""

    key: str
    rows: int
    bytes: int
    partition: str  # its partition's path, e.g. dt=2026-11-22/hour=13


class RejectionExample(BaseModel):
    """A rejected line: enough to see what went wrong."""

    line: int
    detail: str  # as the quarantine has it, values included (its first 200 characters)
    raw: str  # its first 200 characters (invalid UTF-8 replaced)


class DetailCount(BaseModel):
    """Lines rejected for one reason and cause, and the first of them. The cause is the detail without
    the line's own values (`landfall.process.quarantine.cause_of`), so that lines rejected alike count together."""

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
    compression: Compression = "none"  # as the object's bytes showed it
    framing: Framing = "newline"
    bytes_read: int = 0
    records: int = 0
    valid: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    # per reason, its most frequent causes (at most `quarantine.OBJECT_CAUSES`, by count); the reason's
    # other lines (rejected_by_reason minus their counts) had other causes
    rejection_details: dict[str, list[DetailCount]] = Field(default_factory=dict)
    aggregates: dict[str, Any] = Field(default_factory=dict)
    # partition path → rows of this object in the batch's files (`BatchSummary.files`)
    rows_by_partition: dict[str, int] = Field(default_factory=dict)
    quarantine_key: str | None = None
    profile: Profile | None = None  # moved into its batch's (`BatchSummary.profile`)
    s3_gets: int = 0  # requests this object cost, for the run's cost
    s3_puts: int = 0

    @property
    def url(self) -> str:
        return object_url(self.bucket, self.key, self.version_id)


class BatchSummary(Message):
    """The objects are inline, or (for large batches) JSON Lines at `objects_key` in the output bucket;
    the aggregates likewise, at `aggregates_key` when they are large. The files are always inline: a
    batch writes one per partition, and its records span a few hours."""

    run_id: str
    objects: list[ObjectSummary]
    objects_key: str | None = None
    files: list[CuratedFile] = Field(default_factory=list)  # the Parquet files the batch wrote, by partition
    s3_puts: int = 0  # PUT-priced requests of those files (the objects count their own), for the run's cost
    aggregates: dict[str, Any] = Field(default_factory=dict)
    profile: Profile = Field(default_factory=Profile)  # what the job's quality rules measure, of its objects' rows
    aggregates_key: str | None = None  # when the aggregates are large: {"aggregates": {...}} in the output bucket
    duration_ms: int = 0
    memory_mb: int = 0  # the processor's memory size: with the duration, its GB-seconds
