"""The processor's work: stream each object of a batch, validate, aggregate, write, summarise."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from landfall.core.layout import curated_key, object_id, object_url, progress_key, quarantine_key, summary_key
from landfall.core.observability import logger, metrics
from landfall.core.writers import S3ObjectWriter
from landfall.ingest.messages import ManifestItem
from landfall.jobs import Job
from landfall.process.columnar import Source
from landfall.process.compression import CorruptObjectError, UnreadableObjectError, inflate
from landfall.process.counts import Counts
from landfall.process.curated import BatchFiles, Budget
from landfall.process.decoding import Rejection, decode_blocks
from landfall.process.failures import PERMANENT_S3_ERRORS, BatchFailed, FailureCause, TransientError, s3_failure_cause
from landfall.process.folding import Folded, fold
from landfall.process.framing import Block, LongLine, in_messages, iter_blocks
from landfall.process.messages import BatchInput, BatchSummary, CuratedFile, ObjectSummary, ProcessorEvent
from landfall.process.profile import CRC_SPACE, Profile, arrival, profiler_of
from landfall.process.quarantine import CauseTally, entry_line
from landfall.process.settings import ProcessorSettings
from landfall.process.streaming import ObjectSource, read_ahead
from landfall.table.schema import table_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# S3 errors that no retry can fix (failures.PERMANENT_S3_ERRORS): the object is recorded as failed and the batch
# goes on.
# S3 errors that a retry fixes: raised as TransientError, which the state machine retries with backoff.
TRANSIENT_S3_ERRORS = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503", "500"})


@dataclass(frozen=True)
class _BatchContext:
    """What the objects of a batch share: the settings, and the batch's files their rows go to."""

    settings: ProcessorSettings
    files: BatchFiles


class _ObjectRun:
    """The outputs and counts of one object while it streams."""

    def __init__(
        self, item: ManifestItem, batch: BatchInput, s3_client: S3Client, job: Job, context: _BatchContext
    ) -> None:
        self.item, self.batch, self.s3, self.job = item, batch, s3_client, job
        self.source = Source(item.bucket, item.key, item.version_id)
        self.source_id = object_id(item.bucket, item.key, item.version_id)
        self.summary = ObjectSummary(bucket=item.bucket, key=item.key, version_id=item.version_id, status="processed")
        self.aggregate = job.new_aggregate()
        self.files = context.files
        self.rows = context.files.object_rows()  # the batch's only once the object ends well
        self.quarantine: S3ObjectWriter | None = None
        self.causes = CauseTally()
        self.first_line = 0  # of the message being decoded: where a failure is named
        self.profiler = profiler_of(job)
        self.profile = Profile()  # what the job's quality rules measure, of this object's valid records
        self.object_source: ObjectSource | None = None  # its bytes: its first GET says when it landed

    def failure(self, error: Exception) -> BatchFailed:
        where = f" (lines from {self.first_line} on)" if self.first_line else ""
        return BatchFailed(f"{self.summary.url}{where}: {type(error).__name__}: {error}")

    def add(self, folded: Folded, rejections: list[Rejection]) -> None:
        """Merge what a message folded to (its aggregate, its rows by partition) and its rejections."""
        self.aggregate = self.job.merge(self.aggregate, folded.aggregate)
        self.summary.valid += folded.valid
        batches = [rows for _, rows in folded.partitions]
        arrived = arrival(self.item.key, self.object_source.last_modified if self.object_source else None)
        bound = self.profile.keys.bound if self.profile.keys is not None else CRC_SPACE
        self.profile.merge(self.profiler.profile(folded.records, batches, arrived, bound))
        for partition, rows in folded.partitions:
            self.rows.add(partition, rows)
        self.reject(sorted(rejections, key=attrgetter("line")))

    def reject(self, rejections: list[Rejection], truncated: bool = False) -> None:
        if not rejections:
            return
        summary = self.summary
        for rejection in rejections:
            summary.rejected += 1
            summary.rejected_by_reason[rejection.reason] = summary.rejected_by_reason.get(rejection.reason, 0) + 1
            self.causes.add(rejection)
        if self.quarantine is None:
            summary.quarantine_key = quarantine_key(self.batch.run_id, self.source_id)
            self.quarantine = S3ObjectWriter(self.s3, self.batch.output_bucket, summary.quarantine_key)
        source = (self.item.bucket, self.item.key, self.item.version_id)
        self.quarantine.write(b"".join(entry_line(self.batch.run_id, source, r, truncated) for r in rejections))

    def finish(self, source: ObjectSource) -> ObjectSummary:
        self.summary.rejection_details = self.causes.details()
        if self.quarantine is not None:
            self.quarantine.close()
        self.summary.records = self.summary.valid + self.summary.rejected
        self.summary.aggregates = self.aggregate
        self.summary.bytes_read = source.bytes_read
        self.summary.s3_gets = source.requests  # one GET, unless the object is a ZIP archive
        self.summary.s3_puts = self.quarantine.requests if self.quarantine else 0  # the batch counts its files
        self.summary.rows_by_partition = self.rows.rows_by_partition
        self.summary.profile = self.profile
        # last: nothing after it can fail the object, whose rows would then be in the batch's files
        self.files.adopt(self.rows)
        return self.summary

    def abandon(self) -> None:
        """Nothing of a failed object stays: its rows (spills included) dropped, its quarantine removed."""
        self.rows.abort()
        if self.quarantine is not None:
            self.quarantine.abort()


def process_object(
    item: ManifestItem, batch: BatchInput, s3_client: S3Client, context: _BatchContext, job: Job
) -> ObjectSummary:
    """Process one object; permanent problems make a failed summary, transient ones raise."""
    run = _ObjectRun(item, batch, s3_client, job, context)
    source = run.object_source = ObjectSource(s3_client, item.bucket, item.key, item.version_id)
    try:
        return _read(run, source, context.settings)
    except UnreadableObjectError as error:
        run.abandon()
        return _failed(item, _unreadable(error), source)
    except ClientError as error:
        run.abandon()
        return _failed(item, _permanent_s3_error(item, error), source)
    except (BotoConnectionError, ReadTimeoutError) as error:
        run.abandon()
        raise TransientError(f"{object_url(item.bucket, item.key, item.version_id)}: {error}") from error
    except (TransientError, BatchFailed):
        run.abandon()
        raise
    except Exception as error:  # a bug or the machine: it fails the batch, named once
        run.abandon()
        raise run.failure(error) from error
    except BaseException:
        run.abandon()
        raise
    finally:
        source.close()


def _read(run: _ObjectRun, source: ObjectSource, settings: ProcessorSettings) -> ObjectSummary:
    compression, inflated = inflate(source, settings.chunk_bytes)
    run.summary.compression = compression
    # fetched and inflated on a second thread (both release the GIL) while this one decodes; a small
    # object is read inline: a thread of its own would cost more than it saves
    if settings.threaded(run.item.size):
        inflated = read_ahead(inflated)
    try:
        framing, blocks = iter_blocks(inflated, settings.max_line_bytes, compressed=compression != "none")
        run.summary.framing = framing
        _decode_blocks(run, blocks, settings)
    finally:
        inflated.close()  # stops the read-ahead thread if the object ended early
    if framing == "concatenated":
        logger.info("object has no record delimiters", extra={"object": run.summary.url})
    return run.finish(source)


def _unreadable(error: UnreadableObjectError) -> tuple[str, FailureCause]:
    """Why the object's bytes cannot be read as records, and its cause: a retry reads the same bytes."""
    return str(error), "corrupt" if isinstance(error, CorruptObjectError) else "unsupported"


def _permanent_s3_error(item: ManifestItem, error: ClientError) -> tuple[str, FailureCause]:
    """Why S3 refuses the object for good, and its cause (`failures.REMEDIES`); raises TransientError for
    what a retry fixes, and the error itself when nothing says which it is."""
    code = error.response.get("Error", {}).get("Code", "")
    if _transient(error):
        raise TransientError(f"{object_url(item.bucket, item.key, item.version_id)}: {code}") from error
    if code not in PERMANENT_S3_ERRORS:
        raise BatchFailed(f"{object_url(item.bucket, item.key, item.version_id)}: s3 {code}: {error}") from error
    return f"s3 {code}: {error.response.get('Error', {}).get('Message', '')}", s3_failure_cause(code)


def _transient(error: ClientError) -> bool:
    """Whether a retry fixes an S3 error: a throttle, a timeout, a server's error."""
    code = error.response.get("Error", {}).get("Code", "")
    return code in TRANSIENT_S3_ERRORS or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500


def _decode_blocks(run: _ObjectRun, blocks: Iterator[Block | LongLine], settings: ProcessorSettings) -> None:
    for message in in_messages(blocks):
        if isinstance(message, LongLine):
            detail = f"line longer than {settings.max_line_bytes} bytes"
            run.reject([Rejection(message.number, message.head, "line_too_long", detail)], truncated=True)
            continue
        run.first_line = message[0].first_line
        decoded = decode_blocks(run.job, message)
        folded = fold(run.job, decoded.segments, run.source)
        run.add(folded, decoded.rejections + folded.rejections)


def _failed(item: ManifestItem, why: tuple[str, FailureCause], source: ObjectSource) -> ObjectSummary:
    error, cause = why
    logger.warning(
        "object failed", extra={"object": object_url(item.bucket, item.key, item.version_id), "error": error}
    )
    return ObjectSummary(
        bucket=item.bucket,
        key=item.key,
        version_id=item.version_id,
        status="failed",
        error=error,
        failure=cause,
        bytes_read=source.bytes_read,
        s3_gets=max(source.requests, 1),
    )


def process_batch(event: ProcessorEvent, s3_client: S3Client, settings: ProcessorSettings, job: Job) -> BatchSummary:
    """Every object of the batch, its rows written to one file per partition, or, if anything fails the
    batch, its error raised once nothing the batch wrote is left: no file, no spill, no quarantine of
    its objects, so a failed batch adds nothing to the table or the quarantine that its run's report
    does not count."""
    started = time.monotonic()
    batch = event.batch_input
    identity = batch_id(item.url for item in event.items)  # all items: a retry writes the same keys
    files = BatchFiles(
        s3_client,
        batch.output_bucket,
        table_of(job),
        partial(curated_key, table_of(job).name, batch.run_id, batch_id=identity),
        Budget(settings.buffer_mib << 20),
        spill_dir=settings.spill_dir,
        threaded=settings.large_object_threads == "on",
    )
    done: list[ObjectSummary] = []
    try:
        done, error = _process_objects(event, s3_client, _BatchContext(settings, files), job)
        if error is not None:
            raise error
        return _conclude(event, done, files, job, s3_client, settings, identity, started)
    except BaseException as failure:
        # not a clean failure if something stays: the reducer says so
        if left := files.abort() + discard_outputs(s3_client, batch.output_bucket, done):
            raise RuntimeError(f"{failure}; and {left} files of the batch could not be removed") from failure
        raise


def _conclude(
    event: ProcessorEvent,
    done: list[ObjectSummary],
    files: BatchFiles,
    job: Job,
    s3_client: S3Client,
    settings: ProcessorSettings,
    identity: str,
    started: float,
) -> BatchSummary:
    """Write the batch's files, its summary and its progress; an S3 error is raised as one that says
    whether a retry can fix it."""
    batch = event.batch_input
    try:
        written = files.write()
        _record_metrics(done)
        progress = Counts.of(done).to_json()  # before summarise moves large summaries to S3
        duration_ms = int((time.monotonic() - started) * 1000)
        result = summarise(batch, done, job, s3_client, settings, duration_ms, written)
        result.s3_puts = files.requests
        s3_client.put_object(Bucket=batch.output_bucket, Key=progress_key(batch.run_id, identity), Body=progress)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if _transient(error):
            raise TransientError(f"writing the batch's output: {code}") from error
        raise BatchFailed(f"writing the batch's output: s3 {code}: {error}") from error
    except (BotoConnectionError, ReadTimeoutError) as error:
        raise TransientError(f"writing the batch's output: {error}") from error
    except Exception as error:  # a bug or the machine (a full disk): the batch fails, its outputs removed
        raise BatchFailed(f"writing the batch's output: {type(error).__name__}: {error}") from error
    return result


def _process_objects(
    event: ProcessorEvent, s3_client: S3Client, context: _BatchContext, job: Job
) -> tuple[list[ObjectSummary], BaseException | None]:
    """The summaries of the objects done, in the batch's order, and what failed the batch (None: nothing).
    Small objects are fetched concurrently (their latency overlaps), large ones stream one by one; after
    a failure no other object starts, and those under way finish, so that what they wrote can be removed."""
    batch, items, settings = event.batch_input, event.items, context.settings
    small = [i for i, item in enumerate(items) if item.size <= settings.small_object_bytes]
    summaries: list[ObjectSummary | None] = [None] * len(items)
    failures: list[BaseException] = []
    if len(small) > 1:
        failed = threading.Event()

        def unless_failed(item: ManifestItem) -> ObjectSummary | None:
            if failed.is_set():  # an object failed the batch: those not yet started never start
                return None
            try:
                return process_object(item, batch, s3_client, context, job)
            except BaseException:
                failed.set()
                raise

        with ThreadPoolExecutor(max_workers=min(settings.fetch_concurrency, len(small))) as pool:
            futures = {i: pool.submit(unless_failed, items[i]) for i in small}
        for index, future in futures.items():
            if (failure := future.exception()) is not None:
                failures.append(failure)
            else:
                summaries[index] = future.result()
    for index, item in enumerate(items):
        if summaries[index] is None and not failures:
            try:
                summaries[index] = process_object(item, batch, s3_client, context, job)
            except BaseException as failure:  # raised by process_batch, once the batch's files are removed
                failures.append(failure)
    return [s for s in summaries if s is not None], failures[0] if failures else None


def discard_outputs(s3_client: S3Client, bucket: str, objects: list[ObjectSummary]) -> int:
    """Delete the quarantine of processed objects (up to 1,000 keys a request; the batch's files are
    removed by `BatchFiles.abort`); returns how many could not be deleted."""
    keys = [obj.quarantine_key for obj in objects if obj.quarantine_key]
    left = 0
    for start in range(0, len(keys), 1000):
        chunk: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in keys[start : start + 1000]]
        left += len(s3_client.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True}).get("Errors", []))
    return left


def batch_id(urls: Iterable[str]) -> str:
    """The same for the same objects (their urls, in the batch's order), so that a retried batch
    overwrites what it wrote."""
    return hashlib.sha256("\n".join(urls).encode()).hexdigest()[:32]


def summarise(
    batch: BatchInput,
    objects: list[ObjectSummary],
    job: Job,
    s3_client: S3Client,
    settings: ProcessorSettings,
    duration_ms: int,
    files: list[CuratedFile] | None = None,
) -> BatchSummary:
    """The batch's aggregates merged, its files, and its objects, inline, or in S3 when they would make the
    output large: the state's output stays under `inline_summary_bytes`, far below Step Functions' 256 KiB.
    The files stay inline (the next stage commits them): they count, so the objects leave sooner."""
    aggregate, profile = _merged(objects, job)
    summary = BatchSummary(
        run_id=batch.run_id,
        objects=objects,
        files=files or [],
        aggregates=aggregate,
        profile=profile,
        duration_ms=duration_ms,
        memory_mb=settings.memory_mb,
    )
    lines = [obj.model_dump_json(exclude_none=True) for obj in objects]
    objects_bytes = sum(len(line) + 1 for line in lines)
    aggregates_json = summary.model_dump_json(include={"aggregates"})
    # the files and the profile (bounded: SAMPLE_KEYS keys at most) stay inline: they count
    inline = objects_bytes + len(aggregates_json) + len(summary.model_dump_json(include={"files", "profile"}))
    if inline <= settings.inline_summary_bytes:
        return summary
    identity = batch_id(obj.url for obj in objects)
    summary.objects_key = summary_key(batch.run_id, identity)
    body = "".join(f"{line}\n" for line in lines)
    s3_client.put_object(Bucket=batch.output_bucket, Key=summary.objects_key, Body=body)
    summary.objects = []
    if len(aggregates_json) > settings.inline_summary_bytes // 2:
        summary.aggregates_key = summary_key(batch.run_id, f"{identity}-aggregates")
        s3_client.put_object(Bucket=batch.output_bucket, Key=summary.aggregates_key, Body=aggregates_json)
        summary.aggregates = {}
    return summary


def _merged(objects: list[ObjectSummary], job: Job) -> tuple[dict[str, Any], Profile]:
    """The objects' aggregates and quality profiles, moved into the batch's (they add up)."""
    aggregate, profile = job.new_aggregate(), Profile()
    for obj in objects:
        aggregate = job.merge(aggregate, obj.aggregates)
        obj.aggregates = {}
        if obj.profile is not None:
            profile.merge(obj.profile)
            obj.profile = None
    return aggregate, profile


def _record_metrics(summaries: list[ObjectSummary]) -> None:
    metrics.add_metric(
        name="ObjectsProcessed", unit=MetricUnit.Count, value=sum(s.status == "processed" for s in summaries)
    )
    metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=sum(s.status == "failed" for s in summaries))
    metrics.add_metric(name="RecordsValid", unit=MetricUnit.Count, value=sum(s.valid for s in summaries))
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=sum(s.rejected for s in summaries))
    metrics.add_metric(name="BytesRead", unit=MetricUnit.Bytes, value=sum(s.bytes_read for s in summaries))
