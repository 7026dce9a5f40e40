"""What a map run's result records add up to: every object into the ledger, the counts, the failures,
the merged aggregates and what the run used.

A SUCCEEDED record's output is the processor's batch summary (its objects inline or in S3, its files
inline); a FAILED or PENDING record's objects come from its input (a batch that failed, timed out or
never started).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from landfall.commit.objects import FileSpool, run_files
from landfall.core.costs import Usage, run_requests, run_usage
from landfall.core.results import ResultRecord, iter_records
from landfall.ingest.messages import ManifestItem
from landfall.jobs import Job
from landfall.process.counts import Counts
from landfall.process.failures import CLEAN_FAILURES, FailureCause, is_retryable
from landfall.process.messages import BatchSummary, CuratedFile, ObjectSummary
from landfall.process.profile import Profile
from landfall.reduce.details import RunDetails
from landfall.reduce.ledger import Ledger, Outcome
from landfall.reduce.messages import ObjectFailure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_REPORTED_FAILURES = 1000  # in report.json/.md; every one is in objects.jsonl


class MeasuredUsage:
    """What a run used, added up from its batch summaries as the reducer reads them."""

    DEFAULT_PROCESSOR_MB = 1769

    def __init__(self) -> None:
        self.batches = 0
        self.succeeded_batches = 0  # each wrote its progress
        self.processor_seconds = 0.0
        self.processor_gb_seconds = 0.0
        self.object_gets = 0  # the processors' reads, and the summaries they left in S3 (read back)
        self.object_puts = 0  # the processors' writes (PUTs and multipart requests)
        self.result_files = 0

    def add_batch(self, summary: BatchSummary) -> None:
        seconds = summary.duration_ms / 1000
        self.batches += 1
        self.succeeded_batches += 1
        self.processor_seconds += seconds
        self.processor_gb_seconds += seconds * (summary.memory_mb or self.DEFAULT_PROCESSOR_MB) / 1024
        self.object_puts += summary.s3_puts  # its files' (its objects count their own)

    def add_failed_batch(self) -> None:
        self.batches += 1  # it ran; its duration is not reported

    def add_object(self, obj: ObjectSummary) -> None:
        self.object_gets += obj.s3_gets
        self.object_puts += obj.s3_puts

    def add_spilled(self) -> None:
        """A summary file the processor wrote and the reducer reads."""
        self.object_gets += 1
        self.object_puts += 1

    def usage(
        self, reducer_seconds: float, reducer_memory_mb: int, redrive_manifest: bool, commit_attempts: int = 0
    ) -> Usage:
        gets, puts = run_requests(
            object_gets=self.object_gets,
            object_puts=self.object_puts,
            progress_markers=self.succeeded_batches,
            result_files=self.result_files,
            redrive_manifest=redrive_manifest,
            list_requests=2,  # the results' prefix, and the run's data files (orphans)
            commit_attempts=commit_attempts,
        )
        return run_usage(
            batches=self.batches,
            processor_seconds=self.processor_seconds,
            processor_gb_seconds=self.processor_gb_seconds,
            reducer_gb_seconds=reducer_seconds * reducer_memory_mb / 1024,
            s3_gets=gets,
            s3_puts=puts,
            commit_attempts=commit_attempts,
        )


@dataclass(slots=True)
class Tally:
    """The run's counts, and what the report adds beside them: bytes, and the causes of failed objects."""

    counts: Counts = field(default_factory=Counts)
    bytes_read: int = 0
    curated_bytes: int = 0  # of the succeeded batches' files
    by_cause: dict[FailureCause, int] = field(default_factory=dict)  # objects their processor could not read

    def add_failed(self, cause: FailureCause | None) -> None:
        self.counts.objects.failed += 1
        self.counts.objects.failed_for_good += not is_retryable(cause)
        if cause is not None:
            self.by_cause[cause] = self.by_cause.get(cause, 0) + 1

    def add_processed(self, obj: ObjectSummary) -> int:
        """Count a processed object; returns the rows it wrote to the table."""
        self.bytes_read += obj.bytes_read
        return self.counts.add_processed(obj)


class ResultAccumulator:
    def __init__(self, s3_client: S3Client, bucket: str, ledger: Ledger, job: Job) -> None:
        self.s3, self.bucket, self.ledger, self.job = s3_client, bucket, ledger, job
        self.tally = Tally()
        self.failures: list[ObjectFailure] = []
        self.aggregate = job.new_aggregate()
        self.usage = MeasuredUsage()
        self.details = RunDetails()
        self.files = FileSpool()  # every file of the succeeded batches: what the run adds to the table
        self.profile = Profile()  # what the job's quality rules measure, of the succeeded batches' rows

    def add_map_run(self, results: dict[str, Any] | None) -> None:
        """Every result record of the map run, from its results manifest (None: the map wrote none)."""
        if results is None:
            self.ledger.problems.append("the map run wrote no results manifest")
            return
        self.usage.result_files = sum(len(files) for files in results["ResultFiles"].values())
        for record in iter_records(self.s3, results):
            self.add(record)

    def add(self, record: ResultRecord) -> None:
        if record.kind == "SUCCEEDED":
            self._succeeded(record)
        else:
            self._unfinished(record)

    def _succeeded(self, record: ResultRecord) -> None:
        if record.output is None:
            self.ledger.problems.append("a succeeded batch's output was not included in its result record")
            return
        summary = BatchSummary.model_validate_json(record.output)
        self.usage.add_batch(summary)
        self.details.add_child(record.started, record.stopped, record.status, summary.duration_ms)
        aggregates = self._spilled_aggregates(summary.aggregates_key) if summary.aggregates_key else summary.aggregates
        self._merge(aggregates, "a batch")
        self.profile.merge(summary.profile)
        self.tally.curated_bytes += sum(file.bytes for file in summary.files)
        written: dict[str, int] = {}  # rows by partition, as the batch's objects say
        first, objects = "", []
        for obj in self._objects_of(summary):
            first = first or obj.url
            for partition, rows in obj.rows_by_partition.items():
                written[partition] = written.get(partition, 0) + rows
            self._object(obj)
            objects.append(obj)
        self.files.extend(run_files(summary.files, objects))
        self._check_files(summary.files, written, first)

    def _check_files(self, files: list[CuratedFile], written: dict[str, int], first: str) -> None:
        """A batch's files hold, partition by partition, the rows its objects say they wrote."""
        held: dict[str, int] = {}
        for file in files:
            held[file.partition] = held.get(file.partition, 0) + file.rows
        for partition in sorted(held.keys() | written.keys()):
            if held.get(partition, 0) != written.get(partition, 0):
                self.ledger.problems.append(
                    f"the files of the batch of {first or 'no object'} hold {held.get(partition, 0)} rows of "
                    f"{partition} but its objects wrote {written.get(partition, 0)}"
                )

    def _object(self, obj: ObjectSummary) -> None:
        self.usage.add_object(obj)
        self.details.add_object(obj)
        if obj.status == "failed":
            outcome = Outcome.FAILED if is_retryable(obj.failure) else Outcome.FAILED_FOR_GOOD
            if self.ledger.account(obj.bucket, obj.key, obj.version_id, outcome):
                self.tally.add_failed(obj.failure)
                self._fail(obj.bucket, obj.key, obj.version_id, "object", obj.error or "", obj.failure)
            return
        if not self.ledger.account(obj.bucket, obj.key, obj.version_id, Outcome.PROCESSED):
            return
        written = self.tally.add_processed(obj)
        if obj.records != obj.valid + obj.rejected:
            self.ledger.problems.append(
                f"{obj.url}: {obj.records} records read but {obj.valid} valid + {obj.rejected} rejected"
            )
        if written != obj.valid:
            self.ledger.problems.append(f"{obj.url}: {obj.valid} valid records but {written} rows written")

    def _unfinished(self, record: ResultRecord) -> None:
        """A failed (or timed-out, aborted) batch, or one never started: its objects from its input."""
        pending = record.kind == "PENDING"
        if not pending:
            self.usage.add_failed_batch()
            self.details.add_child(record.started, record.stopped, record.status)
        error = batch_error(record)
        items = _batch_items(record.input)
        if items is None:
            self.ledger.problems.append(f"a {record.kind} batch's input was not included: its objects are unknown")
            return
        if not pending and record.error not in CLEAN_FAILURES and items:
            self.ledger.problems.append(
                f"a batch ended by {record.error or record.status} without removing what it wrote: the table and the "
                f"quarantine may hold lines of {items[0].url} and {len(items) - 1} more objects that this run does "
                "not count (the redrive writes them again)"
            )
        outcome = Outcome.PENDING if pending else Outcome.BATCH
        kind: Literal["pending", "batch"] = "pending" if pending else "batch"
        for number, item in enumerate(items):
            if self.ledger.account(item.bucket, item.key, item.version_id, outcome):
                said = error if number == 0 else f"with its batch, as {items[0].url}"  # the error once a batch
                self.details.add_unfinished(item.url, kind, said)
                if pending:
                    self.tally.counts.objects.pending += 1
                else:
                    self.tally.counts.objects.failed += 1
                self._fail(item.bucket, item.key, item.version_id, kind, said)

    def _fail(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        kind: Literal["object", "batch", "pending"],
        error: str,
        cause: FailureCause | None = None,
    ) -> None:
        if len(self.failures) < MAX_REPORTED_FAILURES:
            failure = ObjectFailure(
                bucket=bucket,
                key=key,
                version_id=version_id,
                kind=kind,
                error=error,
                cause=cause,
                retryable=is_retryable(cause),
            )
            self.failures.append(failure)

    def _objects_of(self, summary: BatchSummary) -> Iterator[ObjectSummary]:
        yield from summary.objects
        if summary.objects_key:
            self.usage.add_spilled()
            body = self.s3.get_object(Bucket=self.bucket, Key=summary.objects_key)["Body"]
            for line in body.iter_lines():
                if line.strip():
                    yield ObjectSummary.model_validate_json(line)

    def _spilled_aggregates(self, key: str) -> dict[str, Any]:
        self.usage.add_spilled()
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)["aggregates"]

    def _merge(self, aggregates: dict[str, Any], source: str) -> None:
        """The job's merge is user code: if it fails, the report says so and still accounts for every object."""
        if not aggregates:
            return
        try:
            self.aggregate = self.job.merge(self.aggregate, aggregates)
        except Exception as error:
            problem = f"the aggregates of {source} could not be merged: {type(error).__name__}: {error}"
            self.ledger.problems.append(problem)


def batch_error(record: ResultRecord, limit: int = 1000) -> str:
    """A failed child's error in one line: the Lambda error's type and message, without its stack trace."""
    if not record.error:
        return f"batch {record.status.lower()}"
    try:
        cause = json.loads(record.cause or "")
    except ValueError:
        cause = record.cause
    if isinstance(cause, dict) and "errorMessage" in cause:
        cause = cause["errorMessage"]
    text = f"{record.error}: {cause}" if cause else record.error
    return " ".join(str(text).split())[:limit]


def _batch_items(batch_input: str | None) -> list[ManifestItem] | None:
    """The objects of a failed or pending batch, from its input (None when it was not included)."""
    if batch_input is None:
        return None
    items = json.loads(batch_input).get("Items", [])
    return [ManifestItem.model_validate(item) for item in items]
