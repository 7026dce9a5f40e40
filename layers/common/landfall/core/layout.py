"""Where the pipeline writes, and the deterministic names that make re-processing overwrite."""

from __future__ import annotations

import hashlib
from datetime import datetime

CURATED_PREFIX = "curated/"
QUARANTINE_PREFIX = "quarantine/"
REPORTS_PREFIX = "reports/"
RESULTS_PREFIX = "results/"
SUMMARIES_PREFIX = "summaries/"
PROGRESS_PREFIX = "progress/"
MANIFESTS_PREFIX = "manifests/"
QUALITY_PREFIX = "quality/"
QUERY_RESULTS_PREFIX = "athena-results/"  # the Athena workgroup's (template.yaml)


def object_url(bucket: str, key: str, version_id: str | None = None) -> str:
    """An object version as people (and the reports' problems) name it."""
    return f"s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")


def object_id(bucket: str, key: str, version_id: str | None = None) -> str:
    """A short stable id for one source object (version), safe in any S3 key."""
    digest = hashlib.sha256(f"{bucket}\0{key}\0{version_id or ''}".encode()).hexdigest()
    return digest[:24]


def object_digest(bucket: str, key: str, version_id: str | None = None) -> int:
    """An object version as 8 bytes (blake2b): how the run's ledger and the table's index of committed
    objects hold millions of them (a collision would make two objects one: loud in the ledger)."""
    identity = f"{bucket}\0{key}\0{version_id or ''}".encode()
    return int.from_bytes(hashlib.blake2b(identity, digest_size=8).digest())


def curated_prefix(table: str) -> str:
    """Where a table's files are: its Iceberg location (data files and metadata below it)."""
    return f"{CURATED_PREFIX}{table}/"


def run_data_prefix(table: str, run_id: str) -> str:
    """Every data file a run wrote, committed or not: one listing finds the files a batch left when it
    stopped before it could remove them (Iceberg readers find files through the metadata, not the path)."""
    return f"{curated_prefix(table)}data/{run_id}/"


def curated_key(table: str, run_id: str, partition: str, batch_id: str) -> str:
    """One data file per batch and partition, under the run and the partition's Hive-style path (for
    people). A retried batch has the same id and overwrites its files."""
    return f"{run_data_prefix(table, run_id)}{partition}/{batch_id}.parquet"


def table_metadata_prefix(table: str) -> str:
    """The Iceberg metadata of a table: metadata JSON, manifest lists and manifests."""
    return f"{curated_prefix(table)}metadata/"


def quarantine_key(run_id: str, source_id: str) -> str:
    return f"{QUARANTINE_PREFIX}{run_id}/{source_id}.jsonl"


def summary_prefix(run_id: str) -> str:
    return f"{SUMMARIES_PREFIX}{run_id}/"


def summary_key(run_id: str, batch_id: str) -> str:
    return f"{summary_prefix(run_id)}{batch_id}.jsonl"


def progress_prefix(run_id: str) -> str:
    return f"{PROGRESS_PREFIX}{run_id}/"


def progress_key(run_id: str, batch_id: str) -> str:
    """A batch's counts, written when it ends (a retry overwrites them): how a run is followed live."""
    return f"{progress_prefix(run_id)}{batch_id}.json"


def results_prefix(run_id: str) -> str:
    return f"{RESULTS_PREFIX}{run_id}"


def report_prefix(run_id: str) -> str:
    return f"{REPORTS_PREFIX}{run_id}/"


def report_key(run_id: str, name: str = "report.json") -> str:
    return f"{report_prefix(run_id)}{name}"


def manifest_key(source: str, run_id: str) -> str:
    return f"{MANIFESTS_PREFIX}{source}/{run_id}.jsonl"


def redrive_manifest_key(run_id: str) -> str:
    return f"{MANIFESTS_PREFIX}redrive/from-{run_id}.jsonl"


def upkeep_items_key(upkeep_id: str) -> str:
    """The compaction items of a maintenance run, a line each: what its map reads."""
    return f"{MANIFESTS_PREFIX}upkeep/{upkeep_id}.jsonl"


# Newest first in a listing: the key starts with the milliseconds left until the year 2286.
_LAST_MS = 9_999_999_999_999


def quality_prefix(table: str) -> str:
    """Where each run's quality measures are kept, one small file a run (`reduce.quality`)."""
    return f"{QUALITY_PREFIX}{table}/"


def quality_key(table: str, ended_at: datetime, run_id: str) -> str:
    return f"{quality_prefix(table)}{_LAST_MS - int(ended_at.timestamp() * 1000):013d}-{run_id}.json"
