"""The current snapshot's manifests packed into fewer. Each run's commit is a fast append: one manifest more,
the others listed as they are, so planning a scan reads one more file a run until they are rewritten.

pyiceberg 0.12 has no `rewrite_manifests`, and its `merge_append` merges only while it appends files (an
`append` snapshot, paid for by the reducer's commit). So the rewrite writes what Iceberg's RewriteManifests
commits: a `replace` snapshot holding the same data files, as EXISTING entries that keep their snapshot ids
and sequence numbers, in manifests of up to the target size. It carries the current snapshot's totals and
its objects index forward: the reducer's check for committed objects reads the current snapshot's index.
The table's Iceberg properties set the threshold and the size (`commit.manifest.min-count-to-merge`,
`commit.manifest.target-size-bytes`; 100 manifests and 8 MB by default).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.manifest import ManifestContent, ManifestFile, write_manifest, write_manifest_list
from pyiceberg.table import TableProperties, Transaction
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
from pyiceberg.table.snapshots import Operation, Snapshot, Summary
from pyiceberg.table.update import (
    AddSnapshotUpdate,
    AssertRefSnapshotId,
    SetSnapshotRefUpdate,
    UpdatesAndRequirements,
    UpdateTableMetadata,
)
from pyiceberg.utils.properties import property_as_int

from landfall.commit.commits import Backoff
from landfall.commit.objects import INDEX
from landfall.upkeep.housekeeping_messages import ManifestRewrite

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

_TOTALS = (  # the table's totals, which a rewrite does not change
    "total-data-files",
    "total-delete-files",
    "total-records",
    "total-files-size",
    "total-position-deletes",
    "total-equality-deletes",
)


_DEFAULTS = {
    TableProperties.MANIFEST_MIN_MERGE_COUNT: TableProperties.MANIFEST_MIN_MERGE_COUNT_DEFAULT,
    TableProperties.MANIFEST_TARGET_SIZE_BYTES: TableProperties.MANIFEST_TARGET_SIZE_BYTES_DEFAULT,
}


def _setting(table: Table, name: str, given: int | None) -> int:
    """`given`, else the table's Iceberg property, else Iceberg's default."""
    if given is not None:
        return given
    return property_as_int(table.metadata.properties, name, _DEFAULTS[name]) or _DEFAULTS[name]


def pack(manifests: list[ManifestFile], target_bytes: int) -> tuple[list[list[ManifestFile]], list[ManifestFile]]:
    """Data manifests smaller than the target, packed in order into groups of up to the target (per partition
    spec: a manifest has one); and the manifests kept as they are (delete manifests, big ones, groups of one)."""
    groups: list[list[ManifestFile]] = []
    filling: dict[int, tuple[list[ManifestFile], int]] = {}
    kept: list[ManifestFile] = []
    for manifest in manifests:
        if manifest.content != ManifestContent.DATA or manifest.manifest_length >= target_bytes:
            kept.append(manifest)
            continue
        group, size = filling.get(manifest.partition_spec_id, ([], 0))
        if group and size + manifest.manifest_length > target_bytes:
            groups.append(group)
            group, size = [], 0
        filling[manifest.partition_spec_id] = ([*group, manifest], size + manifest.manifest_length)
    groups += [group for group, _ in filling.values()]
    kept += [group[0] for group in groups if len(group) == 1]
    return [group for group in groups if len(group) > 1], kept


@dataclass
class _Written:
    """The new snapshot's files, written before its commit (deleted if the commit loses a race)."""

    snapshot: Snapshot
    locations: list[str]
    manifests: int  # data manifests it lists
    entries: int


def _merged(table: Table, snapshot_id: int, group: list[ManifestFile], location: str) -> tuple[ManifestFile, int]:
    """One manifest of every live entry of `group`, unchanged but for their status (EXISTING)."""
    compression = table.metadata.properties.get(
        TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT
    )
    entries = 0
    with write_manifest(
        format_version=table.metadata.format_version,
        spec=table.specs()[group[0].partition_spec_id],
        schema=table.schema(),
        output_file=table.io.new_output(location),
        snapshot_id=snapshot_id,
        avro_compression=compression,  # type: ignore[arg-type]
    ) as writer:
        for manifest in group:
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                writer.existing(entry)
                entries += 1
    return writer.to_manifest_file(), entries


def _summary(current: Snapshot, created: int, kept: int, replaced: int, entries: int) -> Summary:
    """A `replace` summary as Iceberg's RewriteManifests writes one, with the current snapshot's totals and
    objects index."""
    previous = current.summary.additional_properties if current.summary else {}
    carried = {key: previous[key] for key in (*_TOTALS, INDEX) if key in previous}
    counts = {"manifests-created": created, "manifests-kept": kept, "manifests-replaced": replaced}
    counts["entries-processed"] = entries
    return Summary(Operation.REPLACE, **carried, **{key: str(count) for key, count in counts.items()})


def _write(table: Table, current: Snapshot, groups: list[list[ManifestFile]], kept: list[ManifestFile]) -> _Written:
    snapshot_id, commit = table.metadata.new_snapshot_id(), uuid.uuid4()
    provider, merged, entries = table.location_provider(), [], 0
    for number, group in enumerate(groups):
        manifest, count = _merged(table, snapshot_id, group, provider.new_metadata_location(f"{commit}-m{number}.avro"))
        merged.append(manifest)
        entries += count
    manifest_list = provider.new_metadata_location(f"snap-{snapshot_id}-0-{commit}.avro")
    sequence_number = table.metadata.next_sequence_number()
    with write_manifest_list(
        format_version=table.metadata.format_version,
        output_file=table.io.new_output(manifest_list),
        snapshot_id=snapshot_id,
        parent_snapshot_id=current.snapshot_id,
        sequence_number=sequence_number,
        avro_compression=table.metadata.properties.get(  # type: ignore[arg-type]
            TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT
        ),
    ) as writer:
        writer.add_manifests(merged + kept)
    replaced = sum(len(group) for group in groups)
    snapshot = Snapshot(
        snapshot_id=snapshot_id,
        parent_snapshot_id=current.snapshot_id,
        sequence_number=sequence_number,
        manifest_list=manifest_list,
        summary=_summary(current, len(merged), len(kept), replaced, entries),
        schema_id=table.metadata.current_schema_id,
    )
    data_manifests = len(merged) + sum(1 for manifest in kept if manifest.content == ManifestContent.DATA)
    return _Written(snapshot, [m.manifest_path for m in merged] + [manifest_list], data_manifests, entries)


class _ReplaceSnapshot(UpdateTableMetadata["_ReplaceSnapshot"]):
    """Adds the snapshot and moves the main branch to it, if the branch is still at its parent."""

    def __init__(self, transaction: Transaction, snapshot: Snapshot) -> None:
        super().__init__(transaction)
        self._snapshot = snapshot

    def _commit(self) -> UpdatesAndRequirements:
        branch = SetSnapshotRefUpdate(
            ref_name=MAIN_BRANCH,
            type=SnapshotRefType.BRANCH,
            snapshot_id=self._snapshot.snapshot_id,
            max_ref_age_ms=None,
            max_snapshot_age_ms=None,
            min_snapshots_to_keep=None,
        )
        parent = AssertRefSnapshotId(ref=MAIN_BRANCH, snapshot_id=self._snapshot.parent_snapshot_id)
        return (AddSnapshotUpdate(snapshot=self._snapshot), branch), (parent,)


def rewrite_manifests(
    catalog: Catalog,
    identifier: str,
    max_manifests: int | None = None,
    target_bytes: int | None = None,
    backoff: Backoff | None = None,
) -> ManifestRewrite:
    """Pack the current snapshot's manifests into fewer when it lists more than `max_manifests` data
    manifests (a `replace` snapshot; retried on a conflict with the table reloaded)."""
    backoff, started = backoff or Backoff(), time.monotonic()
    for attempt in range(1, backoff.attempts + 1):
        table = catalog.load_table(identifier)
        current = table.current_snapshot()
        manifests = current.manifests(table.io) if current else []
        before = sum(1 for manifest in manifests if manifest.content == ManifestContent.DATA)
        result = ManifestRewrite(table=identifier, manifests_before=before, manifests_after=before, attempts=attempt)
        limit = _setting(table, TableProperties.MANIFEST_MIN_MERGE_COUNT, max_manifests)
        target = _setting(table, TableProperties.MANIFEST_TARGET_SIZE_BYTES, target_bytes)
        groups, kept = pack(manifests, target)
        if current is None or before <= limit or not groups:
            return result
        written = _write(table, current, groups, kept)
        try:
            _ReplaceSnapshot(Transaction(table, autocommit=True), written.snapshot).commit()
        except CommitFailedException:
            for location in written.locations:  # never named by any metadata
                table.io.delete(location)
            if attempt == backoff.attempts:
                raise
            backoff.wait(attempt)
            continue
        result.manifests_after, result.entries = written.manifests, written.entries
        result.snapshot_id, result.seconds = written.snapshot.snapshot_id, round(time.monotonic() - started, 3)
        return result
    raise AssertionError("unreachable: the last attempt returns or raises")
