"""The reducer's work: merge every batch summary into the run report and prove nothing was lost.

Memory does not grow with the results: result files are streamed record by record, and each manifest
object is held as an 8-byte digest of its bucket and key with a one-byte outcome. The redrive manifest
is written by reading the manifest a second time. (Two objects whose digests collide would be reported
as one object accounted for twice: the run fails loudly, it never passes silently.)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aws_lambda_powertools.metrics import MetricUnit

from landfall.costs import Prices, Usage, estimate, run_usage
from landfall.jobs import Job
from landfall.models import (
    BatchSummary,
    Counts,
    ManifestItem,
    ObjectFailure,
    ObjectSummary,
    Reconciliation,
    RecordCounts,
    ReducerEvent,
    RunConfig,
    RunOutputs,
    RunReport,
    RunStatus,
)
from landfall.observability import logger, metrics
from landfall.outputs import (
    CURATED_PREFIX,
    QUARANTINE_PREFIX,
    redrive_manifest_key,
    report_key,
    results_prefix,
)
from landfall.results import find_manifest, iter_records, read_manifest
from landfall.settings import parse_settings

MAX_REPORTED_FAILURES = 1000  # in report.json/.md; every one is in the redrive manifest

# outcome of each manifest object
_UNSEEN, _PROCESSED, _FAILED_OBJECT, _FAILED_BATCH, _PENDING = range(5)
_OUTCOME_NAMES = {_PROCESSED: "processed", _FAILED_OBJECT: "failed", _FAILED_BATCH: "batch", _PENDING: "pending"}


class _ObjectId(msgspec.Struct):
    bucket: str
    key: str


_object_id = msgspec.json.Decoder(_ObjectId)


def _digest(bucket: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{bucket}\0{key}".encode(), digest_size=8).digest())


def _line_digest(line: bytes) -> int:
    ident = _object_id.decode(line)
    return _digest(ident.bucket, ident.key)


def _manifest_lines(s3_client, bucket: str, key: str) -> Iterator[bytes]:
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines(chunk_size=1 << 20):
        if line.strip():
            yield line


class _Ledger:
    """Where each manifest object went: accounted exactly once, or named as a problem.

    Nine bytes per object: its digest in a sorted array (found by bisection) and its outcome."""

    def __init__(self, s3_client, bucket: str, key: str) -> None:
        digests = array("Q", map(_line_digest, _manifest_lines(s3_client, bucket, key)))
        self.digests = array("Q", sorted(digests))
        self.outcomes = bytearray(len(self.digests))
        self.problems: list[str] = []

    def position(self, digest: int) -> int | None:
        at = bisect_left(self.digests, digest)
        return at if at < len(self.digests) and self.digests[at] == digest else None

    def account(self, bucket: str, key: str, outcome: int) -> bool:
        position = self.position(_digest(bucket, key))
        name = _OUTCOME_NAMES[outcome]
        if position is None:
            self.problems.append(f"s3://{bucket}/{key} was {name} but is not in the manifest")
            return False
        if self.outcomes[position] != _UNSEEN:
            self.problems.append(f"s3://{bucket}/{key} was {name} and {_OUTCOME_NAMES[self.outcomes[position]]}")
            return False
        self.outcomes[position] = outcome
        return True

    def outcome_of(self, line: bytes) -> int:
        position = self.position(_line_digest(line))
        return _UNSEEN if position is None else self.outcomes[position]

    @property
    def unseen(self) -> int:
        return self.outcomes.count(_UNSEEN)


@dataclass(slots=True)
class _Tally:
    processed: int = 0
    failed: int = 0
    pending: int = 0
    without_delimiters: int = 0
    bytes_read: int = 0
    read: int = 0
    valid: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class _Costs:
    """What the run used, measured as it is reduced."""

    def __init__(self) -> None:
        self.batches = 0
        self.processor_gb_seconds = 0.0
        self.processor_seconds = 0.0
        self.s3_gets = 0  # the processors' reads, and the summaries they left in S3
        self.s3_puts = 0  # the processors' writes (PUTs and multipart requests)
        self.result_files = 0

    def batch(self, summary: BatchSummary) -> None:
        seconds = summary.duration_ms / 1000
        self.processor_seconds += seconds
        self.processor_gb_seconds += seconds * (summary.memory_mb or 1769) / 1024
        self.s3_gets += bool(summary.objects_key)  # read back by the reducer
        self.s3_puts += bool(summary.objects_key)

    def usage(self, reducer_seconds: float, reducer_memory_mb: int, redrive_manifest: bool) -> Usage:
        return run_usage(
            batches=self.batches,
            processor_seconds=self.processor_seconds,
            processor_gb_seconds=self.processor_gb_seconds,
            reducer_gb_seconds=reducer_seconds * reducer_memory_mb / 1024,
            # + the manifest (ItemReader, the reducer twice), the results manifest and files
            s3_gets=self.s3_gets + 4 + self.result_files,
            # + the run's manifest, the ResultWriter's files and manifest, report.json/.md, the redrive manifest
            s3_puts=self.s3_puts + 1 + self.result_files + 1 + 2 + redrive_manifest,
        )


def reduce_run(event: ReducerEvent, s3_client, job: Job, prices: Prices | None = None) -> RunReport:
    """Read the run's results, reconcile them with its manifest, write and return the report."""
    started = time.monotonic()
    bucket = event.output_bucket
    ledger = _Ledger(s3_client, event.manifest.bucket, event.manifest.key)
    failures: list[ObjectFailure] = []
    tally = _Tally()  # plain counters: a pydantic model's attribute writes cost more, per object
    aggregate = job.new_aggregate()
    costs = _Costs()

    def fail(bucket_: str, key: str, kind: str, error: str) -> None:
        if len(failures) < MAX_REPORTED_FAILURES:
            failures.append(ObjectFailure(bucket=bucket_, key=key, kind=kind, error=error))  # type: ignore[arg-type]

    results_key = find_manifest(s3_client, bucket, results_prefix(event.run_id))
    if results_key is None:
        ledger.problems.append("the map run wrote no results manifest")
    else:
        results = read_manifest(s3_client, bucket, results_key)
        costs.result_files = sum(len(files) for files in results["ResultFiles"].values())
        for record in iter_records(s3_client, results):
            if record.kind == "SUCCEEDED":
                if record.output is None:
                    ledger.problems.append("a succeeded batch's output was not included in its result record")
                    continue
                summary = BatchSummary.model_validate_json(record.output)
                costs.batches += 1
                costs.batch(summary)
                aggregate = job.merge(aggregate, summary.aggregates)
                for obj in _objects_of(s3_client, bucket, summary):
                    costs.s3_gets += obj.s3_gets
                    costs.s3_puts += obj.s3_puts
                    if obj.status == "failed":
                        if ledger.account(obj.bucket, obj.key, _FAILED_OBJECT):
                            tally.failed += 1
                            fail(obj.bucket, obj.key, "object", obj.error or "")
                        continue
                    if not ledger.account(obj.bucket, obj.key, _PROCESSED):
                        continue
                    tally.processed += 1
                    tally.without_delimiters += obj.framing == "concatenated"
                    tally.bytes_read += obj.bytes_read
                    tally.read += obj.records
                    tally.valid += obj.valid
                    tally.rejected += obj.rejected
                    for reason, n in obj.rejected_by_reason.items():
                        tally.by_reason[reason] = tally.by_reason.get(reason, 0) + n
                    if obj.records != obj.valid + obj.rejected:
                        ledger.problems.append(
                            f"s3://{obj.bucket}/{obj.key}: {obj.records} records read but "
                            f"{obj.valid} valid + {obj.rejected} rejected"
                        )
                    if obj.aggregates:  # summaries of older processors carried them per object
                        aggregate = job.merge(aggregate, obj.aggregates)
            else:
                pending = record.kind == "PENDING"
                costs.batches += not pending  # a failed batch ran (its duration is not reported)
                error = f"{record.error}: {record.cause}" if record.error else f"batch {record.status.lower()}"
                items = _batch_items(record.input)
                if items is None:
                    ledger.problems.append(f"a {record.kind} batch's input was not included: its objects are unknown")
                    continue
                for item in items:
                    if ledger.account(item.bucket, item.key, _PENDING if pending else _FAILED_BATCH):
                        if pending:
                            tally.pending += 1
                        else:
                            tally.failed += 1
                        fail(item.bucket, item.key, "pending" if pending else "batch", error)

    problems = ledger.problems
    counts = Counts(in_manifest=len(ledger.outcomes), processed=tally.processed, failed=tally.failed,
                    pending=tally.pending, without_delimiters=tally.without_delimiters)  # fmt: skip
    records = RecordCounts(
        read=tally.read, valid=tally.valid, rejected=tally.rejected, rejected_by_reason=tally.by_reason
    )
    bytes_read = tally.bytes_read
    redrive_key, first_missing = _write_redrive(s3_client, event, ledger)
    missing = ledger.unseen
    if missing:
        problems.append(f"{missing} manifest objects are not accounted for, e.g. {first_missing}")
    if counts.in_manifest != counts.processed + counts.failed + counts.pending:
        problems.append(
            f"{counts.in_manifest} objects in the manifest but {counts.processed} processed + "
            f"{counts.failed} failed + {counts.pending} pending"
        )
    if records.read != records.valid + records.rejected:
        problems.append(f"{records.read} records read but {records.valid} valid + {records.rejected} rejected")

    map_error = None
    if event.map_error:
        map_error = f"{event.map_error.get('Error')}: {event.map_error.get('Cause')}"
    failed = counts.failed + counts.pending
    status, status_reason = _status(problems, map_error, failed, counts.in_manifest, event.config)

    usage = costs.usage(
        reducer_seconds=time.monotonic() - started,
        reducer_memory_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 1024),  # set by Lambda
        redrive_manifest=redrive_key is not None,
    )
    prices = prices or parse_settings(Prices, os.environ)
    report = RunReport(
        run_id=event.run_id,
        status=status,
        status_reason=status_reason,
        map_error=map_error,
        objects=counts,
        records=records,
        bytes_read=bytes_read,
        aggregates=aggregate,
        failures=failures,
        failures_omitted=failed - len(failures) if failed > len(failures) else 0,
        reconciliation=Reconciliation(ok=not problems, problems=problems),
        outputs=RunOutputs(
            bucket=bucket,
            curated_prefix=CURATED_PREFIX,
            quarantine_prefix=f"{QUARANTINE_PREFIX}{event.run_id}/",
            report_key=report_key(event.run_id),
            redrive_manifest_key=redrive_key,
        ),
        cost=estimate(usage, event.bytes, prices),
    )
    s3_client.put_object(Bucket=bucket, Key=report.outputs.report_key, Body=report.model_dump_json(indent=2))
    s3_client.put_object(
        Bucket=bucket, Key=report_key(event.run_id, "report.md"), Body=render_markdown(report).encode()
    )
    logger.info("run reduced", extra={"run_id": event.run_id, "status": status})
    metrics.add_metric(name="RunObjects", unit=MetricUnit.Count, value=counts.in_manifest)
    metrics.add_metric(name="RunObjectsFailed", unit=MetricUnit.Count, value=failed)
    metrics.add_metric(name="RunRecords", unit=MetricUnit.Count, value=records.read)
    metrics.add_metric(name="RunRecordsRejected", unit=MetricUnit.Count, value=records.rejected)
    metrics.add_metric(name="RunBytes", unit=MetricUnit.Bytes, value=bytes_read)
    metrics.add_metric(name="RunsNotReconciled", unit=MetricUnit.Count, value=int(bool(problems)))
    return report


def _write_redrive(s3_client, event: ReducerEvent, ledger: _Ledger) -> tuple[str | None, str]:
    """Copy the manifest lines of every object not processed (failed, pending, unaccounted for) to the
    redrive manifest, reading the manifest again; also names the first unaccounted object."""
    first_missing = ""
    written = 0
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        for line in _manifest_lines(s3_client, event.manifest.bucket, event.manifest.key):
            outcome = ledger.outcome_of(line)
            if outcome == _PROCESSED:
                continue
            if outcome == _UNSEEN and not first_missing:
                item = ManifestItem.model_validate_json(line)
                first_missing = f"s3://{item.bucket}/{item.key}"
            spool.write(line + b"\n")
            written += 1
        if not written:
            return None, first_missing
        key = redrive_manifest_key(event.run_id)
        spool.seek(0)
        s3_client.upload_fileobj(spool, event.output_bucket, key)
    return key, first_missing


def _status(
    problems: list[str], map_error: str | None, failed: int, total: int, config: RunConfig
) -> tuple[RunStatus, str]:
    """FAILED when anything is unaccounted for, the map failed, or more objects failed than the run
    tolerates (objects a processor reported failed count as well as those of failed batches)."""
    if problems:
        return "FAILED", "the results do not reconcile with the manifest"
    if map_error:
        return "FAILED", f"the map run failed: {map_error}"
    if not failed:
        return "SUCCEEDED", "every object was processed"
    share = 100.0 * failed / total if total else 100.0
    if share > config.tolerated_failure_percentage:
        return "FAILED", f"{failed} of {total} objects failed ({share:.1f} % > {config.tolerated_failure_percentage} %)"
    return (
        "PARTIAL",
        f"{failed} of {total} objects failed, within the tolerated {config.tolerated_failure_percentage} %",
    )


def _objects_of(s3_client, bucket: str, summary: BatchSummary) -> Iterator[ObjectSummary]:
    yield from summary.objects
    if summary.objects_key:
        body = s3_client.get_object(Bucket=bucket, Key=summary.objects_key)["Body"]
        for line in body.iter_lines():
            if line.strip():
                yield ObjectSummary.model_validate_json(line)


def _batch_items(batch_input: str | None) -> list[ManifestItem] | None:
    """The objects of a failed or pending batch, from its input (None when it was not included)."""
    if batch_input is None:
        return None
    items = json.loads(batch_input).get("Items", [])
    return [ManifestItem.model_validate(item) for item in items]


def render_markdown(report: RunReport) -> str:
    lines = [
        f"# Run {report.run_id}: {report.status}",
        "",
        report.status_reason,
        "",
        "| objects in manifest | processed | failed | pending | records | valid | rejected |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {report.objects.in_manifest} | {report.objects.processed} | {report.objects.failed} "
        f"| {report.objects.pending} | {report.records.read} | {report.records.valid} "
        f"| {report.records.rejected} |",
        "",
        f"Reconciliation: {'everything accounted for' if report.reconciliation.ok else 'FAILED'}",
    ]
    lines += [f"- {problem}" for problem in report.reconciliation.problems]
    by_type: dict[str, Any] = report.aggregates.get("by_type", {})
    if by_type:
        lines += ["", "| type | count | sum | min | max |", "|---|---:|---:|---:|---:|"]
        for kind, stats in sorted(by_type.items()):
            lines.append(
                f"| {kind} | {stats['count']} | {stats['sum']:.2f} | {stats['min']:.2f} | {stats['max']:.2f} |"
            )
    if report.failures:
        lines += ["", "## Failures", ""]
        lines += [f"- `s3://{f.bucket}/{f.key}` ({f.kind}): {f.error}" for f in report.failures]
        if report.failures_omitted:
            lines.append(f"- … and {report.failures_omitted} more: every one is in the redrive manifest")
    if report.cost:
        cost = report.cost
        per_gb = f", ${cost.usd_per_gb:.4f} per GB of input" if cost.usd_per_gb else ""
        lines += [
            "",
            f"Estimated AWS cost: **${cost.total_usd:.4f}**{per_gb} — Lambda ${cost.lambda_usd:.4f} "
            f"({cost.usage.lambda_gb_seconds:.1f} GB-s), Step Functions ${cost.step_functions_usd:.4f} "
            f"({cost.usage.state_transitions} transitions, {cost.usage.express_requests} Express children), "
            f"S3 ${cost.s3_usd:.4f} ({cost.usage.s3_gets} GET, {cost.usage.s3_puts} PUT)",
        ]
    lines += [
        "",
        f"Curated output: `s3://{report.outputs.bucket}/{report.outputs.curated_prefix}`  ",
        f"Quarantine: `s3://{report.outputs.bucket}/{report.outputs.quarantine_prefix}`",
    ]
    if report.outputs.redrive_manifest_key:
        lines.append(f"Redrive manifest: `s3://{report.outputs.bucket}/{report.outputs.redrive_manifest_key}`")
    return "\n".join(lines) + "\n"


def summary_for_state(report: RunReport) -> dict[str, Any]:
    """What the reducer returns to the state machine: small, whatever the run's size."""
    return json.loads(
        report.model_dump_json(
            include={"version", "run_id", "status", "status_reason", "objects", "records", "reconciliation", "outputs"}
        )
    )
