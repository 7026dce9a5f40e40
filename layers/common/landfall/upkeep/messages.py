"""Compaction's messages: what a maintenance run's planner hands each child of its map (one partition's
group of small files), what the child returns, and the parameters the plan is made with."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from landfall.core.costs import CostEstimate
from landfall.core.messages import Message, S3Location
from landfall.core.requests import PricedRequests
from landfall.upkeep.housekeeping_messages import Housekeeping

MiB = 1024 * 1024
# A file takes ~220 bytes of an item's JSON (an S3 path of ~175 characters, its rows and bytes): 500 make
# ~110 KB, well under the 256 KB Step Functions allows a state's input, with room for what the map adds.
MAX_FILES_PER_ITEM = 500
# And whatever the paths' lengths (a bucket and a table name can be long), an item's paths stay within this.
ITEM_PATH_BYTES = 128 * 1024


class CompactionSettings(BaseModel):
    """What the plan is made with (the maintenance run's parameters)."""

    model_config = ConfigDict(frozen=True)

    # Athena's advice is 128 MB or more; a child's work and memory are bounded by this (docs: measured)
    target_bytes: int = Field(default=128 * MiB, gt=0)
    # a file under this share of the target is small: a bigger one is left as it is, never rewritten again
    small_fraction: float = Field(default=0.75, gt=0.0, le=1.0)
    # a partition is compacted once its time range ended this long ago: late records of an open hour
    # still arrive in runs, and a compaction would race each of them
    grace: timedelta = Field(default=timedelta(hours=1), ge=timedelta(0))
    max_files_per_item: int = Field(default=MAX_FILES_PER_ITEM, ge=2, le=MAX_FILES_PER_ITEM)

    @property
    def small_bytes(self) -> int:
        return int(self.target_bytes * self.small_fraction)


class PlannedFile(BaseModel):
    """A data file as the table's manifest describes it."""

    path: str  # s3://bucket/key
    rows: int
    bytes: int


class CompactionItem(Message):
    """One partition's group of small files, to become files of about `target_bytes` in one commit."""

    upkeep_id: str  # the maintenance run: its files go under curated/<table>/data/<upkeep_id>/
    database: str
    table: str
    bucket: str  # the pipeline bucket, where the new files go
    partition: str  # its path, e.g. dt=2026-11-22/hour=13
    ordinal: int  # its value under the table's transform (hours or days since 1970-01-01 UTC)
    snapshot_id: int  # the snapshot planned from
    target_bytes: int
    files: list[PlannedFile]

    @property
    def identifier(self) -> str:
        return f"{self.database}.{self.table}"

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    @property
    def bytes(self) -> int:
        return sum(file.bytes for file in self.files)


class CompactionPlan(Message):
    """What the planner found in the table's current snapshot, and the items to compact."""

    upkeep_id: str
    table: str
    snapshot_id: int | None = None  # None: the table has no snapshot yet
    partitions: int = 0  # with live data files
    open_partitions: int = 0  # left alone: their time range has not closed (plus the grace)
    small_files: int = 0  # in closed partitions
    items: list[CompactionItem] = Field(default_factory=list)


CompactionOutcome = Literal["compacted", "given_up", "nothing_to_do"]


class CompactionResult(Message):
    """What one item's child did. `given_up`: a file of the item left the table (another compaction or an
    expiry took it) before the commit; the partition waits for the next maintenance run, nothing written stays."""

    upkeep_id: str
    table: str
    partition: str
    outcome: CompactionOutcome
    reason: str | None = None
    files_in: int = 0
    files_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rows: int = 0  # the same before and after, or nothing is committed
    seconds: float = 0.0
    attempts: int = 0  # commits tried: 1, plus one per conflict with another writer
    snapshot_id: int | None = None
    gb_seconds: float = 0.0  # the child's Lambda time at its memory size
    requests: PricedRequests = Field(default_factory=PricedRequests)  # its clients' S3 and Glue requests


class UpkeepRequest(Message):
    """What starts a maintenance run: the schedule's input, or `landfall compact`'s."""

    upkeep_id: str  # the execution's name: its files go under curated/<table>/data/<upkeep_id>/
    partitions: list[str] = Field(default_factory=list)  # only these (e.g. dt=2026-11-22/hour=13); empty: all
    compact: bool = True
    housekeep: bool = True


class UpkeepState(Message):
    """The plan step's output, the state machine's state: what the map reads and the report starts from."""

    upkeep_id: str
    table: str
    started_at: datetime
    items: S3Location | None = None  # one item a line; None: nothing to compact
    item_count: int = 0
    planned: CompactionPlan  # its items left out: they are in `items`
    housekeep: bool = True
    plan_gb_seconds: float = 0.0  # the plan step's Lambda time and requests, for the run's cost
    plan_requests: PricedRequests = Field(default_factory=PricedRequests)


class CompactionTotals(BaseModel):
    """The map's children added up."""

    items: int = 0
    compacted: int = 0
    given_up: int = 0  # a file left the table before the commit: the partition waits for the next run
    failed: int = 0  # the child raised: nothing of it committed
    files_in: int = 0
    files_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rows: int = 0
    commit_attempts: int = 0
    gb_seconds: float = 0.0
    requests: PricedRequests = Field(default_factory=PricedRequests)
    errors: list[str] = Field(default_factory=list)  # the first ones, with their partitions

    def add(self, result: CompactionResult) -> None:
        self.compacted += result.outcome == "compacted"
        self.given_up += result.outcome == "given_up"
        self.files_in += result.files_in
        self.files_out += result.files_out
        self.bytes_in += result.bytes_in
        self.bytes_out += result.bytes_out
        self.rows += result.rows
        self.commit_attempts += result.attempts
        self.gb_seconds += result.gb_seconds
        self.requests += result.requests


class UpkeepTiming(BaseModel):
    started_at: datetime
    ended_at: datetime
    seconds: float


class UpkeepReport(Message):
    """A maintenance run's report (`reports/<upkeep_id>/report.json`, beside the pipeline's runs')."""

    run_id: str  # the maintenance run's id, named as a pipeline run's (the orphan sweep reads both)
    kind: Literal["upkeep"] = "upkeep"
    table: str
    status: Literal["SUCCEEDED", "FAILED"]
    status_reason: str = ""
    map_error: str | None = None
    timing: UpkeepTiming
    planned: CompactionPlan
    compaction: CompactionTotals
    housekeeping: Housekeeping | None = None
    cost: CostEstimate | None = None  # from what its steps measured; gigabytes: the bytes compacted

    # what the finish step returns to the state machine: small, whatever the table's size
    STATE_FIELDS: ClassVar[set[str]] = {"version", "run_id", "table", "status", "status_reason"}


class UpkeepEvent(UpkeepState):
    """The state when it reaches the finish step: the map's result, or its error."""

    map_result: dict[str, Any] | None = None
    map_error: dict[str, Any] | None = None
