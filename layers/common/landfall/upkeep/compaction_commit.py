"""A compaction's commit: the item's files out and the new ones in, in one Iceberg snapshot.

pyiceberg 0.12 records it as an `overwrite`: its summaries refuse Iceberg's `replace` operation (the one
that says no row changed), so the summary names the maintenance run instead (`landfall.upkeep-id`), and
the child checks rows out = rows in before it commits.

The snapshot names the objects index its parent named: the runs' commits read it from the current
snapshot only, and a snapshot without it would make the table forget every object version it holds.

Commits are optimistic (Glue's `VersionId`): a run that commits into the table meanwhile makes the
compaction's commit fail, and it tries again on the table as it now is. A run only adds files, so the
replacement still means the same; but if a file of the item has left the table (another compaction, an
expiry), the partition is given up until the next maintenance run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import EqualTo, Reference
from pyiceberg.expressions.literals import literal
from pyiceberg.expressions.visitors import manifest_evaluator
from pyiceberg.manifest import DataFile, ManifestContent

from landfall.commit.commits import Backoff, data_file
from landfall.commit.objects import INDEX
from landfall.upkeep.compaction_rewrite import RowsMismatch

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from landfall.process.messages import CuratedFile
    from landfall.table.partitioning import Partitioning
    from landfall.upkeep.messages import CompactionItem

UPKEEP_ID = "landfall.upkeep-id"  # the snapshot summary property naming the maintenance run that committed it


@dataclass(frozen=True)
class Replaced:
    """The commit's outcome: its snapshot, or (None) the item's files that left the table first."""

    snapshot_id: int | None
    attempts: int  # commits tried
    gone: tuple[str, ...] = ()


def live_files(table: Table, item: CompactionItem) -> dict[str, DataFile]:
    """The item's files the table's current snapshot still holds, by path (only the manifests whose
    partitions include the item's are read)."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return {}
    spec = table.spec()
    partition = EqualTo(term=Reference(spec.fields[0].name), value=literal(item.ordinal))
    in_partition = manifest_evaluator(spec, table.schema(), partition)
    wanted = {file.path for file in item.files}
    found: dict[str, DataFile] = {}
    for manifest in snapshot.manifests(table.io):
        if manifest.content == ManifestContent.DATA and in_partition(manifest):
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                if entry.data_file.file_path in wanted:
                    found[entry.data_file.file_path] = entry.data_file
    return found


def gone_files(live: dict[str, DataFile], item: CompactionItem) -> tuple[str, ...]:
    """The item's files no longer in the table, or no longer as planned."""
    return tuple(f.path for f in item.files if f.path not in live or live[f.path].record_count != f.rows)


def _summary(table: Table, item: CompactionItem) -> dict[str, str]:
    properties = {UPKEEP_ID: item.upkeep_id}
    current = table.current_snapshot()
    index = current.summary.additional_properties.get(INDEX) if current and current.summary else None
    if index is not None:
        properties[INDEX] = index
    return properties


def _commit(
    table: Table, item: CompactionItem, old: dict[str, DataFile], new: list[CuratedFile], partitioning: Partitioning
) -> Table:
    rows_out, rows_in = sum(f.rows for f in new), sum(f.record_count for f in old.values())
    if rows_out != rows_in:
        raise RowsMismatch(f"{item.partition}: {rows_in} rows in the files replaced, {rows_out} in the new ones")
    spec_id = table.metadata.default_spec_id
    transaction = table.transaction()
    with transaction.update_snapshot(snapshot_properties=_summary(table, item)).overwrite() as overwrite:
        for file in old.values():
            overwrite.delete_data_file(file)
        for written in new:
            overwrite.append_data_file(data_file(written, item.bucket, partitioning, spec_id))
    return transaction.commit_transaction()


def replace_files(
    catalog: Catalog, item: CompactionItem, new: list[CuratedFile], partitioning: Partitioning, backoff: Backoff
) -> Replaced:
    """Commit `new` in place of the item's files, retrying on conflict, each attempt on the table reloaded."""
    for attempt in range(1, backoff.attempts + 1):
        table = catalog.load_table(item.identifier)
        live = live_files(table, item)
        if gone := gone_files(live, item):
            return Replaced(None, attempt - 1, gone)
        try:
            table = _commit(table, item, live, new, partitioning)
        except CommitFailedException:
            if attempt == backoff.attempts:
                raise
            backoff.wait(attempt)
            continue
        snapshot = table.current_snapshot()
        return Replaced(snapshot.snapshot_id if snapshot else None, attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
