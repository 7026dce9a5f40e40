"""A run's rows become visible at once: every data file of the run in one Iceberg snapshot, appended
by one commit that names the run in its summary.

Commits are optimistic: the catalog swaps the table's metadata only if nobody else did since it was
read (Glue's `VersionId`), so runs that end together conflict and retry. Each attempt reloads the
table and first leaves out the files a snapshot of this run already holds, which makes the commit
idempotent: a reducer retried after a lost response, or a second call for a finished run, adds
nothing; an execution redriven in place (its failed children run again) adds only their files.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.typedef import Record

from landfall.commit.definition import RUN_ID
from landfall.commit.objects import INDEX, ObjectIndex, RunFile, RunFiles, TableMissing, current_index, write_index
from landfall.process.messages import CuratedFile
from landfall.table.partitioning import Partitioning
from landfall.table.schema import TableSchema

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: exponential from `first_s` to `most_s`, full jitter. 40 attempts ride out
    dozens of runs committing at once (each conflict means another run's commit landed), for hundreds
    of runs an hour."""

    attempts: int = 40
    first_s: float = 0.2
    most_s: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[float, float], float] = field(default=random.uniform)

    def wait(self, attempt: int) -> None:
        self.sleep(self.draw(0.0, min(self.most_s, self.first_s * 2**attempt)))


@dataclass(frozen=True)
class Commit:
    """What a run's commit left: the snapshot (None: the run had no rows) and the metadata file."""

    snapshot_id: int | None
    metadata_location: str
    files: int
    rows: int
    attempts: int
    earlier: bool = False  # every file was committed before this call: nothing was added
    seconds: float = 0.0
    duplicates: frozenset[int] = frozenset()  # objects (digests) the table held already: not added again
    deferred: frozenset[int] = frozenset()  # objects left out as they share files with duplicates
    left_out: tuple[str, ...] = ()  # the keys of the run's files not committed (for the table's upkeep)


def run_snapshots(table: Table, run_id: str) -> list[Snapshot]:
    """The snapshots a run committed, oldest first."""
    return [
        snapshot
        for snapshot in table.metadata.snapshots
        if snapshot.summary is not None and snapshot.summary.additional_properties.get(RUN_ID) == run_id
    ]


def run_snapshot(table: Table, run_id: str) -> Snapshot | None:
    """The last snapshot a run committed, if any."""
    snapshots = run_snapshots(table, run_id)
    return snapshots[-1] if snapshots else None


def committed_paths(table: Table, snapshots: Sequence[Snapshot]) -> set[str]:
    """The data files `snapshots` added (read from their manifests: only when a run commits again)."""
    paths: set[str] = set()
    for snapshot in snapshots:
        for manifest in snapshot.manifests(table.io):
            if manifest.added_snapshot_id == snapshot.snapshot_id:
                entries = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
                paths.update(e.data_file.file_path for e in entries if e.snapshot_id == snapshot.snapshot_id)
    return paths


def data_file(file: CuratedFile | RunFile, bucket: str, partitioning: Partitioning | None, spec_id: int) -> DataFile:
    """The manifest entry of a file the processor wrote and described (no footer is read)."""
    partition = Record(partitioning.ordinal(file.partition)) if partitioning is not None else Record()
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=f"s3://{bucket}/{file.key}",
        file_format=FileFormat.PARQUET,
        partition=partition,
        record_count=file.rows,
        file_size_in_bytes=file.bytes,
        sort_order_id=None,
        spec_id=spec_id,
        equality_ids=None,
        key_metadata=None,
    )


@dataclass(frozen=True)
class _Plan:
    """What an attempt commits: the files no snapshot holds yet, less those holding committed objects."""

    keep: list[RunFile]
    left_out: tuple[str, ...]  # keys of files holding an object version the table holds
    index: ObjectIndex  # the table's, before this commit
    duplicates: frozenset[int]  # the run's objects the table already holds
    deferred: frozenset[int]  # the run's objects left out beside those (their files are left out whole)
    earlier: list[Snapshot]

    @property
    def outcome(self) -> tuple[frozenset[int], frozenset[int], tuple[str, ...]]:
        return self.duplicates, self.deferred, self.left_out


def _plan(table: Table, run_id: str, files: RunFiles, bucket: str) -> _Plan:
    """Two passes over the run's files (spooled: only what is kept is held)."""
    earlier = run_snapshots(table, run_id)
    done = committed_paths(table, earlier) if earlier else set()
    index = current_index(table)
    duplicates = frozenset(d for f in files if f"s3://{bucket}/{f.key}" not in done for d in f.objects if d in index)
    keep: list[RunFile] = []
    dropped: list[RunFile] = []
    for file in files:
        if f"s3://{bucket}/{file.key}" not in done:
            (keep if duplicates.isdisjoint(file.objects) else dropped).append(file)
    deferred = frozenset(d for f in dropped for d in f.objects) - duplicates
    return _Plan(keep, tuple(f.key for f in dropped), index, duplicates, deferred, earlier)


def commit_run(
    catalog: Catalog,
    identifier: str,
    run_id: str,
    files: RunFiles,
    where: tuple[str, Partitioning | None],
    backoff: Backoff | None = None,
) -> Commit:
    """Append the run's files (in `where[0]`, partitioned by `where[1]`) in one snapshot, once, without
    an object version the table holds already; the commit counts what it added and left out."""
    backoff = backoff or Backoff()
    started = time.monotonic()
    for attempt in range(1, backoff.attempts + 1):
        table = catalog.load_table(identifier)
        plan = _plan(table, run_id, files, where[0])
        if not plan.keep:
            last = plan.earlier[-1].snapshot_id if plan.earlier else None
            return Commit(last, table.metadata_location, 0, 0, attempt, bool(plan.earlier), 0.0, *plan.outcome)
        try:
            table = _append(table, run_id, plan, where)
        except CommitFailedException:
            if attempt == backoff.attempts:
                raise
            backoff.wait(attempt)
            continue
        snapshot = run_snapshot(table, run_id)
        rows, seconds = sum(f.rows for f in plan.keep), time.monotonic() - started
        snapshot_id = snapshot.snapshot_id if snapshot else None
        return Commit(
            snapshot_id, table.metadata_location, len(plan.keep), rows, attempt, False, seconds, *plan.outcome
        )
    raise AssertionError("unreachable: the last attempt returns or raises")


def _append(table: Table, run_id: str, plan: _Plan, where: tuple[str, Partitioning | None]) -> Table:
    bucket, partitioning = where
    spec_id = table.metadata.default_spec_id
    index = write_index(table, plan.index.with_objects(d for f in plan.keep for d in f.objects))
    transaction = table.transaction()
    with transaction.update_snapshot(snapshot_properties={RUN_ID: run_id, INDEX: index}).fast_append() as append:
        for run_file in plan.keep:
            append.append_data_file(data_file(run_file, bucket, partitioning, spec_id))
    return transaction.commit_transaction()


@dataclass(frozen=True)
class RunCommitter:
    """The reducer's commit: a run's files into `database`'s table of the job."""

    catalog: Catalog
    database: str
    table: TableSchema
    backoff: Backoff = field(default_factory=Backoff)

    def __call__(self, run_id: str, files: RunFiles, bucket: str) -> Commit:
        identifier = f"{self.database}.{self.table.name}"
        try:
            return commit_run(self.catalog, identifier, run_id, files, (bucket, self.table.partitioning), self.backoff)
        except NoSuchTableError as error:
            raise TableMissing(f"no table {identifier} in the Glue catalog ({error})") from error
