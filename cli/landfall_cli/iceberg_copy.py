"""The curated Iceberg table in a local copy of the pipeline bucket: which data files a snapshot holds.

The copy keeps the bucket's keys under a folder, so each `s3://BUCKET/KEY` the metadata names is
`FOLDER/KEY`. pyiceberg reads the metadata (the one the catalog points to, or the snapshot a run
committed) and plans the live files; DuckDB then reads them as Parquet (`query.py`).
"""

from __future__ import annotations

import io
from pathlib import Path

from pyiceberg.catalog.noop import NoopCatalog
from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import StaticTable
from pyiceberg.table.snapshots import Snapshot

from landfall.commit.commits import run_snapshot


class CopyError(LookupError):
    """The copy lacks what was asked of it (a run's snapshot, the metadata)."""


class _CopiedFile(InputFile):
    def __init__(self, location: str, path: Path) -> None:
        super().__init__(location)
        self._path = path

    def __len__(self) -> int:
        return self._path.stat().st_size

    def exists(self) -> bool:
        return self._path.is_file()

    def open(self, seekable: bool = True) -> InputStream:
        return io.BytesIO(self._path.read_bytes())


class CopyIO(FileIO):
    """Reads `s3://bucket/key` from `root/key`; the copy is read-only."""

    def __init__(self, root: Path, bucket: str) -> None:
        super().__init__({})
        self.root, self.prefix = root, f"s3://{bucket}/"

    def path(self, location: str) -> Path:
        if not location.startswith(self.prefix):
            raise CopyError(f"{location} is not in the copied bucket ({self.prefix})")
        return self.root / location[len(self.prefix) :]

    def new_input(self, location: str) -> InputFile:
        return _CopiedFile(location, self.path(location))

    def new_output(self, location: str) -> OutputFile:
        raise PermissionError(f"the local copy is read-only: {location}")

    def delete(self, location: str | InputFile | OutputFile) -> None:
        raise PermissionError(f"the local copy is read-only: {location}")


def open_table(copy: CopyIO, metadata_location: str) -> StaticTable:
    """The table as the metadata file left it, read from the copy."""
    metadata = FromInputFile.table_metadata(copy.new_input(metadata_location))
    return StaticTable(("copy", metadata_location), metadata, metadata_location, copy, NoopCatalog("copy"))


def snapshot_of(table: StaticTable, run_id: str | None) -> Snapshot | None:
    """The snapshot a run committed (`--as-of RUN_ID`), or the current one (None: an empty table)."""
    if run_id is None:
        return table.current_snapshot()
    snapshot = run_snapshot(table, run_id)
    if snapshot is None:
        raise CopyError(f"run {run_id} committed no snapshot to the table")
    return snapshot


def live_files(copy: CopyIO, metadata_location: str, run_id: str | None = None) -> list[Path]:
    """The local paths of the data files the table holds as its current snapshot (or a run's) has it."""
    table = open_table(copy, metadata_location)
    snapshot = snapshot_of(table, run_id)
    if snapshot is None:
        return []
    return [copy.path(task.file.file_path) for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files()]
