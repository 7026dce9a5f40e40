"""Files the table no longer needs, deleted: data files no live snapshot names and no run may still commit,
and metadata files nothing names (manifests and objects indexes of commits that lost a race, metadata
files older than the metadata log, what an expiry that stopped half-way left).

A file stays while anything may still need it:
- a **live snapshot**: every snapshot of the current metadata, not only the current one (time travel);
- a **commit or a batch under way**: nothing younger than the safety window goes (Iceberg's own
  `remove_orphan_files` waits 3 days), so a file written moments before its commit lands is safe;
- its **run** (`data/<run id>/…`), until the run can no longer commit it: a run in flight has no report
  yet, and an execution that failed may be redriven in place for 14 days after it stopped, its batches
  rewriting and committing files under the same prefix. A run that ended within the safety window may
  have committed after the sweep loaded the table, so its files wait too.

The live snapshots' files are held as 8-byte digests, so memory grows by 8 bytes a data file, and the
listings are streamed page by page.
"""

from __future__ import annotations

import heapq
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel

from landfall.commit.objects import INDEX, ObjectIndex
from landfall.core.layout import curated_prefix, object_digest, report_key, table_metadata_prefix
from landfall.upkeep.housekeeping_messages import NAMED, OrphanSweep, SweptFiles

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef, ObjectTypeDef
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

ORPHAN_WINDOW = timedelta(days=3)  # Iceberg's remove_orphan_files default: longer than any commit or batch takes
REDRIVE_WINDOW = timedelta(days=14)  # Step Functions redrives a failed execution until 14 days after it stopped
# The pipeline's state machine sets no TimeoutSeconds, so a STANDARD execution may run for a year; one that
# stopped without a report (its reducer failed) may then be redriven for 14 more days.
EXECUTION_LIMIT = timedelta(days=365)
NO_REPORT_WINDOW = EXECUTION_LIMIT + REDRIVE_WINDOW
DELETE_BATCH = 1000  # keys a DeleteObjects request takes


@dataclass(frozen=True)
class Windows:
    """How old an unreferenced file must be before it goes, by what may still need it."""

    orphan: timedelta = ORPHAN_WINDOW  # any file: a commit or a batch under way
    redrive: timedelta = REDRIVE_WINDOW  # after a failed or uncommitted run ended
    no_report: timedelta = NO_REPORT_WINDOW  # a file of a run without a report: in flight, or stopped early


class DeleteFailed(RuntimeError):
    """S3 refused to delete some keys (raised, so that the maintenance run fails and says which)."""


def split_location(location: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key)."""
    parts = urlsplit(location)
    return parts.netloc, parts.path.lstrip("/")


def snapshot_index(snapshot: Snapshot) -> str | None:
    """The objects index a snapshot names (`landfall.commit.objects`), if any."""
    return snapshot.summary.additional_properties.get(INDEX) if snapshot.summary else None


def live_manifests(table: Table) -> dict[str, ManifestFile]:
    """Every manifest a live snapshot lists, once (snapshots share most of theirs)."""
    manifests: dict[str, ManifestFile] = {}
    for snapshot in table.metadata.snapshots:
        for manifest in snapshot.manifests(table.io):
            manifests.setdefault(manifest.manifest_path, manifest)
    return manifests


def live_metadata(table: Table, manifests: Iterable[str]) -> set[str]:
    """Every metadata file the table needs: the current metadata file and those of its log (readers may hold
    them), the live snapshots' manifest lists, `manifests` and objects indexes, and statistics files."""
    metadata = table.metadata
    named = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log), *manifests}
    for snapshot in metadata.snapshots:
        named.add(snapshot.manifest_list)
        if index := snapshot_index(snapshot):
            named.add(index)
    named.update(statistics.statistics_path for statistics in metadata.statistics)
    named.update(statistics.statistics_path for statistics in metadata.partition_statistics)
    return named


def _file_digest(location: str) -> int:
    """A data file as the object it is (`object_digest`): the listing's keys digest the same way."""
    return object_digest(*split_location(location))


def live_data(table: Table, manifests: Iterable[ManifestFile]) -> ObjectIndex:
    """The data (and delete) files any live snapshot reads, as sorted digests: each manifest's sorted on its
    own, then merged, so no list of every file is ever held."""
    chunks = [
        array("Q", sorted({_file_digest(e.data_file.file_path) for e in m.fetch_manifest_entry(table.io)}))
        for m in manifests
    ]
    merged, last = array("Q"), -1
    for digest in heapq.merge(*chunks):
        if digest != last:
            merged.append(digest)
            last = digest
    return ObjectIndex(merged)


@dataclass
class Deleter:
    """Deletes keys of one bucket a thousand a request, counting (into `result`) what went."""

    s3_client: S3Client
    bucket: str
    result: SweptFiles
    _pending: list[tuple[str, int]] = field(default_factory=list)

    def delete(self, key: str, size: int = 0) -> None:
        self._pending.append((key, size))
        if len(self._pending) == DELETE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        objects: list[ObjectIdentifierTypeDef] = [{"Key": key} for key, _ in self._pending]
        response = self.s3_client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        if errors := response.get("Errors", []):
            raise DeleteFailed(f"{len(errors)} of {len(objects)} keys in s3://{self.bucket} not deleted: {errors[0]}")
        for key, size in self._pending:
            self.result.deleted += 1
            self.result.bytes += size
            if len(self.result.keys) < NAMED:
                self.result.keys.append(key)
        self._pending.clear()


def delete_keys(s3_client: S3Client, bucket: str, keys: Iterable[str]) -> int:
    """Delete `keys` in batches; how many went."""
    deleter = Deleter(s3_client, bucket, SweptFiles())
    for key in keys:
        deleter.delete(key)
    deleter.flush()
    return deleter.result.deleted


def _listing(s3_client: S3Client, bucket: str, prefix: str) -> Iterator[ObjectTypeDef]:
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


class _Ended(BaseModel):
    ended_at: datetime


class _Committed(BaseModel):
    skipped: str | None = None


class _RunOutcome(BaseModel):
    """What housekeeping reads of a run's report (`landfall.reduce.messages.RunReport` owns its format) or of
    a maintenance run's (`landfall.upkeep.messages.UpkeepReport`): both are under `reports/<run id>/`."""

    status: str
    map_error: str | None = None
    timing: _Ended | None = None
    table: _Committed | str | None = None  # a maintenance run's report names its table: it commits or fails

    def final_after(self, written: datetime, redrive: timedelta) -> datetime:
        """From when the run can no longer commit a file under its prefix (`written`: the report's own time)."""
        ended = self.timing.ended_at if self.timing else written
        failed = self.status == "FAILED" or self.map_error is not None  # the execution failed: redrivable
        uncommitted = isinstance(self.table, _Committed) and self.table.skipped is not None
        return ended + redrive if failed or uncommitted else ended


@dataclass
class _Runs:
    """Each run's report, read once: from when its files can no longer be committed (None: no report)."""

    s3_client: S3Client
    bucket: str
    redrive: timedelta
    _final: dict[str, datetime | None] = field(default_factory=dict)

    def final_after(self, run_id: str) -> datetime | None:
        if run_id not in self._final:
            self._final[run_id] = self._read(run_id)
        return self._final[run_id]

    def _read(self, run_id: str) -> datetime | None:
        try:
            response = self.s3_client.get_object(Bucket=self.bucket, Key=report_key(run_id))
        except self.s3_client.exceptions.NoSuchKey:
            return None
        outcome = _RunOutcome.model_validate_json(response["Body"].read())
        return outcome.final_after(response["LastModified"], self.redrive)


def _run_may_commit(run_id: str, modified: datetime, now: datetime, runs: _Runs, windows: Windows) -> bool:
    final_after = runs.final_after(run_id)
    if final_after is None:  # in flight, or stopped before its reducer wrote the report
        return now - modified < windows.no_report
    # the safety window again: a run that ended since the table was loaded may have committed after it
    return now - windows.orphan < final_after


def _sweep_data(
    s3_client: S3Client, where: tuple[str, str], referenced: ObjectIndex, now: datetime, windows: Windows
) -> SweptFiles:
    """Unreferenced data files under `where` (bucket, prefix), deleted unless young or their run may commit."""
    bucket, prefix = where
    deleter = Deleter(s3_client, bucket, SweptFiles(prefix=prefix))
    result, runs = deleter.result, _Runs(s3_client, bucket, windows.redrive)
    for entry in _listing(s3_client, bucket, prefix):
        key, modified = entry["Key"], entry["LastModified"]
        if object_digest(bucket, key) in referenced:
            continue
        result.unreferenced += 1
        if now - modified < windows.orphan:
            result.young += 1
        elif _run_may_commit(key.removeprefix(prefix).split("/", 1)[0], modified, now, runs, windows):
            result.kept_for_runs += 1
        else:
            deleter.delete(key, entry["Size"])
    deleter.flush()
    return result


def _sweep_metadata(
    s3_client: S3Client, where: tuple[str, str], named: set[str], now: datetime, window: timedelta
) -> SweptFiles:
    """Metadata files under `where` (bucket, prefix) that are not `named`, deleted unless young."""
    bucket, prefix = where
    deleter = Deleter(s3_client, bucket, SweptFiles(prefix=prefix))
    for entry in _listing(s3_client, bucket, prefix):
        if f"s3://{bucket}/{entry['Key']}" in named:
            continue
        deleter.result.unreferenced += 1
        if now - entry["LastModified"] < window:
            deleter.result.young += 1
        else:
            deleter.delete(entry["Key"], entry["Size"])
    deleter.flush()
    return deleter.result


def check_location(table: Table, bucket: str) -> None:
    """Refuse a table whose files are not where the pipeline puts them: nothing outside them is swept."""
    expected = f"s3://{bucket}/{curated_prefix(table.name()[-1])}".rstrip("/")
    if table.location().rstrip("/") != expected:
        raise ValueError(f"{'.'.join(table.name())} is at {table.location()}, not {expected}: not swept")


def remove_orphan_files(
    catalog: Catalog, identifier: str, s3_client: S3Client, bucket: str, now: datetime, windows: Windows | None = None
) -> OrphanSweep:
    """Delete the table's data and metadata files that nothing may still need (see the module's words);
    `now` is when the sweep runs (the files' ages are measured from it)."""
    windows = windows or Windows()
    started = time.monotonic()
    table = catalog.load_table(identifier)
    check_location(table, bucket)
    name, manifests = table.name()[-1], live_manifests(table)
    data_prefix = f"{curated_prefix(name)}data/"  # where `layout.run_data_prefix` puts every run's files
    referenced = live_data(table, manifests.values())
    data = _sweep_data(s3_client, (bucket, data_prefix), referenced, now, windows)
    named = live_metadata(table, manifests)
    metadata = _sweep_metadata(s3_client, (bucket, table_metadata_prefix(name)), named, now, windows.orphan)
    return OrphanSweep(
        table=identifier,
        live_snapshots=len(table.metadata.snapshots),
        data=data,
        metadata=metadata,
        seconds=round(time.monotonic() - started, 3),
    )
