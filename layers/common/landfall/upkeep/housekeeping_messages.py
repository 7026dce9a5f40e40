"""What the table's housekeeping did, step by step: snapshots expired, files no snapshot needs deleted,
manifests rewritten. Each step returns its model; the maintenance run returns them together."""

from __future__ import annotations

from pydantic import BaseModel, Field

from landfall.core.messages import Message

NAMED = 100  # keys and snapshot ids a result lists: the state machine's payload stays small


class SnapshotExpiry(Message):
    """Snapshots that stopped being the table's state before the retention began, removed from its metadata,
    and the metadata files only they named (manifest lists, manifests, objects indexes) deleted."""

    table: str
    snapshots_before: int = 0
    expired: int = 0
    expired_ids: list[int] = Field(default_factory=list)  # the first NAMED
    current_snapshot_id: int | None = None  # never expired
    metadata_files_deleted: int = 0
    attempts: int = 0  # 1, plus one per conflict with another commit
    seconds: float = 0.0


class SweptFiles(BaseModel):
    """Files under one prefix that no live snapshot names, and what became of them."""

    prefix: str = ""
    unreferenced: int = 0  # no live snapshot (nor, for metadata, the metadata log) names them
    young: int = 0  # of those, written within the safety window: kept (a commit or a batch may be under way)
    kept_for_runs: int = 0  # data files old enough, kept because their run may still commit them
    deleted: int = 0
    bytes: int = 0  # of the deleted files
    keys: list[str] = Field(default_factory=list)  # the first NAMED deleted


class OrphanSweep(Message):
    """Data and metadata files no live snapshot needs, deleted when nothing else may need them."""

    table: str
    live_snapshots: int = 0
    data: SweptFiles = Field(default_factory=SweptFiles)
    metadata: SweptFiles = Field(default_factory=SweptFiles)
    seconds: float = 0.0


class ManifestRewrite(Message):
    """The current snapshot's manifests packed into fewer, in a `replace` snapshot (None: not needed)."""

    table: str
    manifests_before: int = 0  # the current snapshot's data manifests
    manifests_after: int = 0
    snapshot_id: int | None = None
    entries: int = 0  # data files carried into the new manifests
    attempts: int = 0
    seconds: float = 0.0


class Housekeeping(Message):
    """One maintenance pass over a table, in the order it runs."""

    expiry: SnapshotExpiry
    orphans: OrphanSweep
    manifests: ManifestRewrite
