"""A local copy of the pipeline bucket's curated table, made an Iceberg table any reader opens.

A copy keeps the bucket's keys under a folder: each `s3://BUCKET/KEY` is `FOLDER/KEY`. The metadata it
copied still names `s3://` paths, so `localise` rewrites it where it is: every manifest once (snapshots
share them), every snapshot's manifest list, and one metadata file holding every snapshot with its summary
(`landfall.run-id`: time travel by run works in the copy). The table's folder then has the layout of
Hadoop tables: `metadata/v1.metadata.json` and `metadata/version-hint.text` naming it, which readers of
such tables (DuckDB's iceberg extension, pyiceberg, Spark) look for when given the folder alone.

Paths in the copy are `file://` URIs of absolute paths, not percent-encoded (Iceberg's readers take a
path as written): pyiceberg, Java's Hadoop file systems and DuckDB all read that form, while a plain path
means whatever the reader's default file system is (HDFS on a cluster).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import (
    DATA_FILE_TYPE,
    DEFAULT_READ_VERSION,
    MANIFEST_LIST_FILE_STRUCTS,
    ManifestFile,
    write_manifest,
    write_manifest_list,
)
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table import StaticTable, TableProperties
from pyiceberg.table.snapshots import Snapshot, Summary
from pyiceberg.typedef import Record

from landfall.commit.commits import run_snapshot

if TYPE_CHECKING:
    from pyiceberg.avro.codecs import AvroCompressionCodec
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.types import StructType

LOCAL_VERSION = 1  # the copy's first and only metadata version
LOCAL_METADATA = f"v{LOCAL_VERSION}.metadata.json"
VERSION_HINT = "version-hint.text"  # names the current version (its number): the Hadoop tables' pointer
FILE_SCHEME = "file://"

_DATA_FILE = DATA_FILE_TYPE[DEFAULT_READ_VERSION]  # the fields of the records pyiceberg reads
_MANIFEST_FILE = MANIFEST_LIST_FILE_STRUCTS[DEFAULT_READ_VERSION]


class CopyError(LookupError):
    """The copy lacks what was asked of it (a run's snapshot, the metadata)."""


def local_metadata_file(table_folder: Path) -> Path:
    """Where `localise` puts the copy's metadata in the table's folder (`…/curated/<table>`)."""
    return table_folder / "metadata" / LOCAL_METADATA


# ---------------------------------------------------------------- the copy, read by the bucket's names
class _CopiedFile(InputFile):
    def __init__(self, location: str, path: Path) -> None:
        super().__init__(location)
        self._path = path

    def __len__(self) -> int:
        return self._path.stat().st_size

    def exists(self) -> bool:
        return self._path.is_file()

    def open(self, seekable: bool = True) -> InputStream:
        return io.BytesIO(self._path.read_bytes())  # whole: the file may be rewritten once read


class CopyIO(FileIO):
    """Reads `s3://bucket/key` from `root/key` (read-only), and says where each such file is as a local
    URI, keeping the local files it named: the ones the rewritten table refers to."""

    def __init__(self, root: Path, bucket: str) -> None:
        super().__init__({})
        self.root, self.prefix = root.resolve(), f"s3://{bucket}/"
        self.named: set[Path] = set()

    def path(self, location: str) -> Path:
        if not location.startswith(self.prefix):
            raise CopyError(f"{location} is not in the copied bucket ({self.prefix})")
        return self.root / location[len(self.prefix) :]

    def local(self, location: str) -> str:
        """The `file://` URI of a copied file (or folder)."""
        path = self.path(location)
        self.named.add(path)
        return FILE_SCHEME + path.as_posix()

    def local_if_copied(self, value: str) -> str:
        """A property's value, localised if it is a location in the bucket (a summary's objects index)."""
        return self.local(value) if value.startswith(self.prefix) else value

    def new_input(self, location: str) -> InputFile:
        return _CopiedFile(location, self.path(location))

    def new_output(self, location: str) -> OutputFile:
        raise PermissionError(f"the copy is read by the bucket's names, never written so: {location}")

    def delete(self, location: str | InputFile | OutputFile) -> None:
        raise PermissionError(f"the copy is read by the bucket's names, never written so: {location}")


# ---------------------------------------------------------------- rewriting it with local paths
def _with_field[R: Record](record: R, struct: StructType, name: str, value: Any) -> R:
    """A copy of one of pyiceberg's records with one field changed (they have no copy-with)."""
    values = [record[position] for position in range(len(record))]
    values[[field.name for field in struct.fields].index(name)] = value
    return type(record)(*values)


def _avro_compression(metadata: TableMetadata) -> AvroCompressionCodec:
    codec = metadata.properties.get(
        TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT
    )
    return cast("AvroCompressionCodec", codec)  # Iceberg's name (gzip): the Avro writer maps it, as pyiceberg's do


def _rewrite_manifest(
    copy: CopyIO, manifest: ManifestFile, metadata: TableMetadata, snapshot: Snapshot
) -> ManifestFile:
    """The manifest, over itself, naming its data files by local URIs; every entry (deleted ones too) keeps
    its status, snapshot and sequence numbers, so the list keeps the manifest's own counts and numbers."""
    entries = manifest.fetch_manifest_entry(copy, discard_deleted=False)  # fresh records: changed in place
    schema = metadata.schema_by_id(snapshot.schema_id) if snapshot.schema_id is not None else None
    output = PyArrowFileIO().new_output(copy.local(manifest.manifest_path))
    spec = metadata.specs()[manifest.partition_spec_id]
    writer = write_manifest(
        metadata.format_version,
        spec,
        schema or metadata.schema(),
        output,
        cast("int", manifest.added_snapshot_id),
        _avro_compression(metadata),
    )
    with writer:
        for entry in entries:
            local = copy.local(entry.data_file.file_path)
            entry.data_file = _with_field(entry.data_file, _DATA_FILE, "file_path", local)
            writer.add_entry(entry)
    written = writer.to_manifest_file()
    moved = _with_field(manifest, _MANIFEST_FILE, "manifest_path", written.manifest_path)
    return _with_field(moved, _MANIFEST_FILE, "manifest_length", written.manifest_length)


def _rewrite_manifest_list(
    copy: CopyIO, snapshot: Snapshot, metadata: TableMetadata, manifests: list[ManifestFile]
) -> str:
    """The snapshot's manifest list, over itself, naming the rewritten manifests; its local URI."""
    location = copy.local(snapshot.manifest_list)
    with write_manifest_list(
        metadata.format_version,
        PyArrowFileIO().new_output(location),
        snapshot.snapshot_id,
        snapshot.parent_snapshot_id,
        snapshot.sequence_number,
        _avro_compression(metadata),
    ) as writer:
        writer.add_manifests(manifests)
    return location


def _rewrite_snapshots(copy: CopyIO, metadata: TableMetadata) -> list[Snapshot]:
    """Every snapshot, oldest first, with its rewritten manifest list and its summary's locations local.
    The first snapshot to list a manifest added it: its schema is the manifest's."""
    rewritten: dict[str, ManifestFile] = {}  # by the bucket's path: each manifest is read and written once
    snapshots = []
    for snapshot in metadata.snapshots:
        manifests = []
        for manifest in snapshot.manifests(copy):
            if manifest.manifest_path not in rewritten:
                rewritten[manifest.manifest_path] = _rewrite_manifest(copy, manifest, metadata, snapshot)
            manifests.append(rewritten[manifest.manifest_path])
        changes: dict[str, Any] = {"manifest_list": _rewrite_manifest_list(copy, snapshot, metadata, manifests)}
        if snapshot.summary is not None:
            properties = {k: copy.local_if_copied(v) for k, v in snapshot.summary.additional_properties.items()}
            changes["summary"] = Summary(snapshot.summary.operation, **properties)
        snapshots.append(snapshot.model_copy(update=changes))
    return snapshots


def _local_metadata(copy: CopyIO, metadata: TableMetadata) -> TableMetadata:
    """The metadata with every location local; the log of earlier metadata files (the bucket's) left out."""
    return metadata.model_copy(
        update={
            "location": copy.local(metadata.location),
            "snapshots": _rewrite_snapshots(copy, metadata),
            "metadata_log": [],
            "properties": {key: copy.local_if_copied(value) for key, value in metadata.properties.items()},
            "statistics": [
                s.model_copy(update={"statistics_path": copy.local(s.statistics_path)}) for s in metadata.statistics
            ],
            "partition_statistics": [
                s.model_copy(update={"statistics_path": copy.local(s.statistics_path)})
                for s in metadata.partition_statistics
            ],
        }
    )


def _remove_unnamed(folder: Path, kept: set[Path]) -> None:
    """The bucket's metadata files the local table does not name go: its metadata JSON files (which name
    `s3://` paths) and what commits that lost a race left."""
    for path in folder.rglob("*"):
        if path.is_file() and path not in kept:
            path.unlink()


def localise(root: Path, bucket: str, metadata_location: str) -> Path:
    """Make the copy of the bucket under `root` an Iceberg table of its own, with every snapshot of the
    metadata file the bucket's catalog named (`s3://bucket/…`); the local metadata file."""
    copy = CopyIO(root, bucket)
    metadata = FromInputFile.table_metadata(copy.new_input(metadata_location))
    local = _local_metadata(copy, metadata)
    metadata_file = local_metadata_file(copy.path(metadata.location))
    ToOutputFile.table_metadata(
        local, PyArrowFileIO().new_output(FILE_SCHEME + metadata_file.as_posix()), overwrite=True
    )
    hint = metadata_file.with_name(VERSION_HINT)
    hint.write_text(str(LOCAL_VERSION))
    _remove_unnamed(metadata_file.parent, copy.named | {metadata_file, hint})
    return metadata_file


def newest_metadata(root: Path, bucket: str, locations: Iterable[str]) -> str | None:
    """Of the bucket's metadata files in the copy (each run's report names the one its commit left), the
    newest: the one written last, as each says (None: none named)."""
    copy = CopyIO(root, bucket)
    return max(
        set(locations),
        key=lambda location: FromInputFile.table_metadata(copy.new_input(location)).last_updated_ms,
        default=None,
    )


# ---------------------------------------------------------------- reading it
def open_copy(metadata_file: Path) -> StaticTable:
    """The local table, as any reader opens it: pyiceberg's own file IO, no mapping of names."""
    if not metadata_file.is_file():
        raise CopyError(f"no local Iceberg metadata at {metadata_file}: copy the table again (make demo)")
    return StaticTable.from_metadata(str(metadata_file))


def snapshot_of(table: StaticTable, run_id: str | None) -> Snapshot | None:
    """The snapshot a run committed (`--as-of RUN_ID`), or the current one (None: an empty table)."""
    if run_id is None:
        return table.current_snapshot()
    snapshot = run_snapshot(table, run_id)
    if snapshot is None:
        raise CopyError(f"run {run_id} committed no snapshot to the table")
    return snapshot


def live_files(metadata_file: Path, run_id: str | None = None) -> list[Path]:
    """The local paths of the data files the table holds as its current snapshot (or a run's) has it."""
    table = open_copy(metadata_file)
    snapshot = snapshot_of(table, run_id)
    if snapshot is None:
        return []
    planned = table.scan(snapshot_id=snapshot.snapshot_id).plan_files()
    return [Path(task.file.file_path.removeprefix(FILE_SCHEME)) for task in planned]
