"""The reducer's messages: its input (the execution input with the map's results) and the run report it
writes and returns, with the counts, the failures and the reconciliation that proves nothing was lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from landfall.core.costs import CostEstimate
from landfall.core.layout import object_url
from landfall.core.messages import Message
from landfall.ingest.messages import ExecutionInput, RunConfig
from landfall.jobs.aggregate import AggregateTable
from landfall.process.counts import ObjectCounts, RecordCounts
from landfall.process.failures import FailureCause
from landfall.process.messages import DetailCount
from landfall.reduce.quality import RunQuality

RunStatus = Literal["SUCCEEDED", "PARTIAL", "FAILED"]


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


class Reconciliation(BaseModel):
    ok: bool
    problems: list[str] = Field(default_factory=list)


class RunOutputs(BaseModel):
    bucket: str
    curated_prefix: str
    quarantine_prefix: str
    report_key: str
    objects_key: str | None = None  # every object's outputs (JSON Lines): partitions, quarantine, error
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


class RunTiming(BaseModel):
    started_at: datetime | None = None  # when its manifest was written, just before its execution started
    ended_at: datetime
    seconds: float | None = None


class TableCommit(BaseModel):
    """The run's commit to the curated Iceberg table: its rows became visible together, in one snapshot."""

    table: str
    snapshot_id: int | None = None  # None: nothing committed (no rows, or `skipped`)
    metadata_location: str = ""  # the table's metadata file after the commit: any Iceberg reader opens it
    files: int = 0
    rows: int = 0
    attempts: int = 0  # 1, plus one per conflict with another run's commit
    seconds: float = 0.0
    earlier: bool = False  # the run had committed already (a retried reducer, a redrive): nothing added
    skipped: str | None = None  # why the run's files were not committed
    duplicate_objects: int = 0  # object versions whose rows the table held already: not added again
    deferred_objects: int = 0  # objects left out with them (they shared a file): to process again
    left_out_files: list[str] = Field(default_factory=list)  # keys of the run's files not committed


class OrphanedFiles(BaseModel):
    """Data files of the run that no batch's result names (`landfall.reduce.orphans`): in no snapshot."""

    prefix: str = ""  # where the run's data files are
    count: int = 0
    bytes: int = 0
    keys: list[str] = Field(default_factory=list)  # the first thousand


class RunReport(Message):
    run_id: str
    status: RunStatus
    status_reason: str = ""
    map_error: str | None = None
    job: str = ""
    timing: RunTiming | None = None
    settings: RunConfig | None = None
    objects: ObjectCounts
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
    table: TableCommit | None = None  # None: the run had no table to commit to
    orphaned_files: OrphanedFiles = Field(default_factory=OrphanedFiles)
    reconciliation: Reconciliation
    outputs: RunOutputs
    cost: CostEstimate | None = None
    quality: RunQuality | None = None  # the job's quality rules on this run (None: it declares none)

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
