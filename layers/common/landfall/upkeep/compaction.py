"""A child of the maintenance run's map: one partition's group of small files rewritten as files of about
the target size and committed in their place, in one snapshot, or given up.

Nothing it writes outlives a compaction that does not commit: a stale item (its files already left the
table) writes nothing; files written for a commit that failed or was given up are deleted. Only a commit
whose outcome is unknown leaves its files, under the maintenance run's prefix, to the orphan sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyiceberg.exceptions import CommitFailedException, ValidationException

from landfall.commit.commits import Backoff
from landfall.upkeep.compaction_commit import gone_files, live_files, replace_files
from landfall.upkeep.compaction_rewrite import RowsMismatch, discard, rewrite_files
from landfall.upkeep.messages import CompactionItem, CompactionOutcome, CompactionResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyiceberg.catalog import Catalog

    from landfall.table.schema import TableSchema

_NOT_COMMITTED = (CommitFailedException, ValidationException, RowsMismatch)  # what says no snapshot landed


def _result(item: CompactionItem, outcome: CompactionOutcome, seconds: float, **details: Any) -> CompactionResult:
    return CompactionResult(
        upkeep_id=item.upkeep_id,
        table=item.table,
        partition=item.partition,
        outcome=outcome,
        seconds=seconds,
        **details,
    )


def _gone(gone: tuple[str, ...]) -> str:
    return f"{len(gone)} of its files left the table before the commit (first: {gone[0]})"


def compact(
    item: CompactionItem,
    s3_client: S3Client,
    catalog: Catalog,
    table: TableSchema,
    backoff: Backoff | None = None,
    timer: Callable[[], float] = time.monotonic,
    scratch: str | None = None,
) -> CompactionResult:
    """Compact the item's files of `table` (the job's declaration: the new files' schema and partitioning)."""
    started = timer()
    if item.table != table.name or table.partitioning is None:
        raise ValueError(
            f"item of table {item.table}, compacted as table {table.name} (partitioned: {table.partitioning})"
        )
    if len(item.files) < 2:
        return _result(item, "nothing_to_do", timer() - started, reason="fewer than two files")
    if gone := gone_files(live_files(catalog.load_table(item.identifier), item), item):
        return _result(item, "given_up", timer() - started, reason=_gone(gone))
    new = rewrite_files(s3_client, item, table, scratch)
    try:
        replaced = replace_files(catalog, item, new, table.partitioning, backoff or Backoff())
    except _NOT_COMMITTED:
        discard(s3_client, item.bucket, new)
        raise
    if replaced.snapshot_id is None:
        discard(s3_client, item.bucket, new)
        return _result(item, "given_up", timer() - started, reason=_gone(replaced.gone), attempts=replaced.attempts)
    return _result(
        item,
        "compacted",
        timer() - started,
        files_in=len(item.files),
        files_out=len(new),
        bytes_in=item.bytes,
        bytes_out=sum(file.bytes for file in new),
        rows=item.rows,
        attempts=replaced.attempts,
        snapshot_id=replaced.snapshot_id,
    )
