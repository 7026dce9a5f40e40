"""Old snapshots expired: removed from the table's metadata, then the metadata files only they named deleted.

A snapshot is old when it stopped being the table's state (the next snapshot was committed) before the
retention began, so the table as of any moment within the retention stays readable. The current snapshot,
the newest `keep_last` and any branch's or tag's head are never expired.

pyiceberg's `expire_snapshots` only removes snapshots from the metadata (one commit, no file deleted): the
manifest lists, the manifests no live snapshot lists and the objects indexes no live snapshot names are
deleted here once that commit landed. Data files are left to the orphan sweep (`orphan_files`), which
also waits out the safety window and the runs that may still commit.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException

from landfall.commit.commits import Backoff
from landfall.upkeep.housekeeping_messages import NAMED, SnapshotExpiry
from landfall.upkeep.orphan_files import (
    REDRIVE_WINDOW,
    delete_keys,
    live_manifests,
    live_metadata,
    snapshot_index,
    split_location,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

# A run's own snapshot outlives any redrive of its execution: a redrive in place then finds what the run
# committed (`commit_run`'s `earlier`) instead of meeting its objects as duplicates.
RETENTION = REDRIVE_WINDOW + timedelta(days=1)
KEEP_LAST = 10  # a table without runs for weeks still travels back over its last ten


def expirable(metadata: TableMetadata, now: datetime, retention: timedelta, keep_last: int) -> list[Snapshot]:
    """The snapshots replaced before `now - retention`, but for the newest `keep_last` and the refs' heads."""
    if keep_last < 1:
        raise ValueError(f"keep_last must keep the current snapshot: {keep_last}")
    protected = {ref.snapshot_id for ref in metadata.refs.values()}
    ordered = sorted(metadata.snapshots, key=lambda s: (s.sequence_number or 0, s.timestamp_ms))
    cutoff_ms = int((now - retention).timestamp() * 1000)
    older = ordered[: max(0, len(ordered) - keep_last)]
    return [
        snapshot
        for snapshot, successor in zip(older, ordered[1:], strict=False)
        if successor.timestamp_ms < cutoff_ms and snapshot.snapshot_id not in protected
    ]


def _delete_named_only_by(table: Table, expired: list[Snapshot], s3_client: S3Client) -> int:
    """Delete the manifest lists, manifests and objects indexes that `expired` named and the live snapshots
    of `table` (loaded after the expiry) do not; only files in the table's metadata folder."""
    if not expired:
        return 0
    manifests = live_manifests(table)
    live = live_metadata(table, manifests)
    named: set[str] = set()
    for snapshot in expired:  # their manifest lists are still there: read before anything is deleted
        named.add(snapshot.manifest_list)
        named.update(manifest.manifest_path for manifest in snapshot.manifests(table.io))
        if index := snapshot_index(snapshot):
            named.add(index)
    folder = f"{table.location().rstrip('/')}/metadata/"
    bucket, _ = split_location(table.location())
    return delete_keys(s3_client, bucket, (split_location(p)[1] for p in sorted(named - live) if p.startswith(folder)))


def expire_snapshots(
    catalog: Catalog,
    identifier: str,
    s3_client: S3Client,
    now: datetime,
    retention: timedelta = RETENTION,
    keep_last: int = KEEP_LAST,
    backoff: Backoff | None = None,
) -> SnapshotExpiry:
    """Expire the table's old snapshots in one commit (retried on a conflict, the table reloaded and the
    snapshots chosen again), then delete the metadata files only they named."""
    backoff = backoff or Backoff()
    started = time.monotonic()
    for attempt in range(1, backoff.attempts + 1):
        table = catalog.load_table(identifier)
        before = len(table.metadata.snapshots)
        expired = expirable(table.metadata, now, retention, keep_last)
        if expired:
            try:
                table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
            except CommitFailedException:
                if attempt == backoff.attempts:
                    raise
                backoff.wait(attempt)
                continue
        deleted = _delete_named_only_by(table, expired, s3_client)  # `table` is the committed one now
        current = table.current_snapshot()
        return SnapshotExpiry(
            table=identifier,
            snapshots_before=before,
            expired=len(expired),
            expired_ids=[s.snapshot_id for s in expired[:NAMED]],
            current_snapshot_id=current.snapshot_id if current else None,
            metadata_files_deleted=deleted,
            attempts=attempt,
            seconds=round(time.monotonic() - started, 3),
        )
    raise AssertionError("unreachable: the last attempt returns or raises")
