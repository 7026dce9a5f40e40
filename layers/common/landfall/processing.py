"""The processor's work: stream each object of a batch, validate, aggregate, write, summarise."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from typing import Any

import msgspec
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError
from isal import isal_zlib

from landfall.jobs import Job, RecordRejected
from landfall.models import BatchInput, BatchSummary, ManifestItem, ObjectSummary, ProcessorEvent
from landfall.observability import logger, metrics
from landfall.outputs import curated_key, object_id, quarantine_key
from landfall.settings import ProcessorSettings
from landfall.streaming import CorruptObjectError, Line, decompress, iter_chunks, iter_lines

# S3 errors that no retry can fix: the object is recorded as failed and the batch goes on.
PERMANENT_S3_ERRORS = frozenset({"NoSuchKey", "NoSuchVersion", "404", "AccessDenied", "403", "InvalidObjectState"})
# S3 errors that a retry fixes: raised as TransientError, which the state machine retries with backoff.
TRANSIENT_S3_ERRORS = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503", "500"})
_CURATED_LEVEL = 1  # fast: curated output is re-compacted downstream if needed
_QUARANTINE_RAW_LIMIT = 64 * 1024


class TransientError(RuntimeError):
    """A failure a retry can fix; its name is in the state machine's Retry list."""


class _PartitionWriter:
    """Gzip-compresses one partition's valid lines as they arrive (the original bytes, unchanged)."""

    def __init__(self) -> None:
        self._compressor = isal_zlib.compressobj(_CURATED_LEVEL, isal_zlib.DEFLATED, 31)
        self._parts: list[bytes] = []

    def write(self, line: bytes) -> None:
        self._parts.append(self._compressor.compress(line + b"\n"))

    def finish(self) -> bytes:
        self._parts.append(self._compressor.flush())
        return b"".join(self._parts)


def _rejection(item: ManifestItem, line: Line, reason: str, detail: str) -> bytes:
    entry: dict[str, Any] = {
        "source_bucket": item.bucket,
        "source_key": item.key,
        "line": line.number,
        "reason": reason,
        "detail": detail,
    }
    raw = line.data[:_QUARANTINE_RAW_LIMIT]
    try:
        entry["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        entry["raw_base64"] = base64.b64encode(raw).decode("ascii")
    if line.truncated or len(line.data) > _QUARANTINE_RAW_LIMIT:
        entry["raw_truncated"] = True
    return msgspec.json.encode(entry) + b"\n"


def process_object(
    item: ManifestItem, batch: BatchInput, s3_client, settings: ProcessorSettings, job: Job
) -> ObjectSummary:
    """Process one object; permanent problems make a failed summary, transient ones raise."""
    source_id = object_id(item.bucket, item.key, item.version_id)
    summary = ObjectSummary(bucket=item.bucket, key=item.key, status="processed")
    aggregate = job.new_aggregate()
    partitions: dict[str, _PartitionWriter] = {}
    rejected: list[bytes] = []

    def counted_chunks() -> Iterable[bytes]:
        for chunk in iter_chunks(s3_client, item.bucket, item.key, item.version_id, settings.chunk_bytes):
            summary.bytes_read += len(chunk)
            yield chunk

    try:
        data = decompress(iter(counted_chunks()), settings.chunk_bytes)
        for line in iter_lines(data, settings.max_line_bytes):
            if line.truncated:
                reason, detail = "line_too_long", f"line longer than {settings.max_line_bytes} bytes"
            elif not line.data.strip():
                continue
            else:
                try:
                    record = job.decode(line.data)
                except RecordRejected as rejection:
                    reason, detail = rejection.reason, rejection.detail
                else:
                    summary.valid += 1
                    job.add(aggregate, record)
                    partition = job.partition(record)
                    writer = partitions.get(partition)
                    if writer is None:
                        writer = partitions[partition] = _PartitionWriter()
                    writer.write(line.data)
                    continue
            summary.rejected += 1
            summary.rejected_by_reason[reason] = summary.rejected_by_reason.get(reason, 0) + 1
            rejected.append(_rejection(item, line, reason, detail))
    except CorruptObjectError as error:
        return _failed(item, str(error))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in TRANSIENT_S3_ERRORS or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise TransientError(f"s3://{item.bucket}/{item.key}: {code}") from error
        if code not in PERMANENT_S3_ERRORS:
            raise
        return _failed(item, f"s3 {code}: {error.response['Error'].get('Message', '')}")
    except (BotoConnectionError, ReadTimeoutError) as error:
        raise TransientError(f"s3://{item.bucket}/{item.key}: {error}") from error

    summary.records = summary.valid + summary.rejected
    summary.aggregates = aggregate
    for partition, writer in sorted(partitions.items()):
        key = curated_key(partition, source_id)
        s3_client.put_object(Bucket=batch.output_bucket, Key=key, Body=writer.finish())
        summary.curated_keys.append(key)
    if rejected:
        summary.quarantine_key = quarantine_key(batch.run_id, source_id)
        s3_client.put_object(Bucket=batch.output_bucket, Key=summary.quarantine_key, Body=b"".join(rejected))
    return summary


def _failed(item: ManifestItem, error: str) -> ObjectSummary:
    logger.warning("object failed", extra={"bucket": item.bucket, "key": item.key, "error": error})
    return ObjectSummary(bucket=item.bucket, key=item.key, status="failed", error=error)


def process_batch(event: ProcessorEvent, s3_client, settings: ProcessorSettings, job: Job) -> BatchSummary:
    started = time.monotonic()
    batch = event.batch_input
    summaries = [process_object(item, batch, s3_client, settings, job) for item in event.items]
    _record_metrics(summaries)
    return BatchSummary(run_id=batch.run_id, objects=summaries, duration_ms=int((time.monotonic() - started) * 1000))


def _record_metrics(summaries: list[ObjectSummary]) -> None:
    metrics.add_metric(
        name="ObjectsProcessed", unit=MetricUnit.Count, value=sum(s.status == "processed" for s in summaries)
    )
    metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=sum(s.status == "failed" for s in summaries))
    metrics.add_metric(name="RecordsValid", unit=MetricUnit.Count, value=sum(s.valid for s in summaries))
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=sum(s.rejected for s in summaries))
    metrics.add_metric(name="BytesRead", unit=MetricUnit.Bytes, value=sum(s.bytes_read for s in summaries))
