"""Which files to compact: the small data files of the table's current snapshot, partition by partition,
packed into groups of about the target size, each group one item of the maintenance run's map.

Read from the manifests' entries alone (no footer, no pyarrow). A partition is left alone while its time
range is open (its end plus a grace is after `now`): runs still commit into it. Files of a partition
that has delete files (Landfall writes none) are left alone too: rewriting them would need the deletes
applied. A group of one file is not worth a rewrite.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import DataFile, DataFileContent

from landfall.upkeep.messages import ITEM_PATH_BYTES, CompactionItem, CompactionPlan, CompactionSettings, PlannedFile

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from landfall.table.partitioning import Partitioning
    from landfall.table.schema import TableSchema

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_KEYS = {"hour": "%Y%m%d%H", "day": "%Y%m%d"}  # a partition's key, as Hourly and Daily make them
_ENTRY_BYTES = 48  # an item's JSON around each path: {"path":"","rows":…,"bytes":…}


def partition_start(partitioning: Partitioning, ordinal: int) -> datetime:
    return _EPOCH + ordinal * _UNITS[partitioning.transform]


def partition_closed(partitioning: Partitioning, ordinal: int, grace: timedelta, now: datetime) -> bool:
    """Whether the partition's time range ended `grace` ago or more."""
    return partition_start(partitioning, ordinal) + _UNITS[partitioning.transform] + grace <= now


def partition_path(partitioning: Partitioning, ordinal: int) -> str:
    """The path of a partition value (the inverse of `Partitioning.ordinal`)."""
    key = int(partition_start(partitioning, ordinal).strftime(_KEYS[partitioning.transform]))
    path = partitioning.path(key)
    if partitioning.ordinal(path) != ordinal:
        raise ValueError(f"partition {ordinal} of the {partitioning.transform} transform has no path ({path})")
    return path


@dataclass
class _Group:
    files: list[DataFile] = field(default_factory=list)
    bytes: int = 0
    path_bytes: int = 0

    def fits(self, file: DataFile, target: int, max_files: int) -> bool:
        return (
            self.bytes + file.file_size_in_bytes <= target
            and len(self.files) < max_files
            and self.path_bytes + len(file.file_path) + _ENTRY_BYTES <= ITEM_PATH_BYTES
        )

    def add(self, file: DataFile) -> None:
        self.files.append(file)
        self.bytes += file.file_size_in_bytes
        self.path_bytes += len(file.file_path) + _ENTRY_BYTES


def pack(files: Iterable[DataFile], target: int, max_files: int) -> list[list[DataFile]]:
    """First fit, largest first: each file joins the first group it fits (the target not exceeded, at most
    `max_files`), else starts one. Groups of two files or more, each in path order."""
    groups: list[_Group] = []
    for file in sorted(files, key=lambda f: (-f.file_size_in_bytes, f.file_path)):
        group = next((g for g in groups if g.fits(file, target, max_files)), None)
        if group is None:
            group = _Group()
            groups.append(group)
        group.add(file)
    return [sorted(g.files, key=lambda f: f.file_path) for g in groups if len(g.files) >= 2]


def live_data_files(table: Table, snapshot: Snapshot) -> Iterator[DataFile]:
    """Every file the snapshot holds, data and delete files, from its manifests."""
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            yield entry.data_file


@dataclass
class _Partitions:
    """The small files of each closed partition, and what was left alone."""

    small: dict[int, list[DataFile]] = field(default_factory=lambda: defaultdict(list))
    seen: set[int] = field(default_factory=set)
    open: set[int] = field(default_factory=set)
    with_deletes: set[int] = field(default_factory=set)

    def closed_small(self) -> dict[int, list[DataFile]]:
        return {p: files for p, files in sorted(self.small.items()) if p not in self.with_deletes}


def _small_files(
    table: Table, snapshot: Snapshot, partitioning: Partitioning, settings: CompactionSettings, now: datetime
) -> _Partitions:
    found = _Partitions()
    spec_id = table.metadata.default_spec_id
    for file in live_data_files(table, snapshot):
        ordinal = file.partition[0]
        found.seen.add(ordinal)
        if file.content != DataFileContent.DATA:
            found.with_deletes.add(ordinal)
        elif not partition_closed(partitioning, ordinal, settings.grace, now):
            found.open.add(ordinal)
        elif file.spec_id == spec_id and file.file_size_in_bytes < settings.small_bytes:
            found.small[ordinal].append(file)
    return found


def _items(
    small: dict[int, list[DataFile]], partitioning: Partitioning, settings: CompactionSettings, **common: Any
) -> list[CompactionItem]:
    return [
        CompactionItem(
            partition=partition_path(partitioning, ordinal),
            ordinal=ordinal,
            target_bytes=settings.target_bytes,
            files=[PlannedFile(path=f.file_path, rows=f.record_count, bytes=f.file_size_in_bytes) for f in group],
            **common,
        )
        for ordinal, files in small.items()
        for group in pack(files, settings.target_bytes, settings.max_files_per_item)
    ]


def plan_compaction(
    catalog: Catalog,
    database: str,
    table: TableSchema,
    bucket: str,
    upkeep_id: str,
    settings: CompactionSettings,
    now: datetime,
) -> CompactionPlan:
    """The items that compact `database`'s table of `table` (new files into `bucket`), as of `now`."""
    if table.partitioning is None:
        raise ValueError(f"table {table.name} declares no partitioning: compaction works partition by partition")
    iceberg = catalog.load_table(f"{database}.{table.name}")
    snapshot = iceberg.current_snapshot()
    if snapshot is None:
        return CompactionPlan(upkeep_id=upkeep_id, table=table.name)
    found = _small_files(iceberg, snapshot, table.partitioning, settings, now)
    small = found.closed_small()
    common = {"upkeep_id": upkeep_id, "database": database, "table": table.name, "bucket": bucket}
    return CompactionPlan(
        upkeep_id=upkeep_id,
        table=table.name,
        snapshot_id=snapshot.snapshot_id,
        partitions=len(found.seen),
        open_partitions=len(found.open),
        small_files=sum(len(files) for files in small.values()),
        items=_items(small, table.partitioning, settings, snapshot_id=snapshot.snapshot_id, **common),
    )
