"""The reducer's work: merge every batch summary into the run report and prove nothing was lost.

Memory does not grow with the results: result files are streamed record by record, and each manifest
object is held as an 8-byte digest of its bucket, key and version with a one-byte outcome: two
versions of one key are two objects. The redrive manifest is written by reading the manifest a second
time. (Two objects whose digests collide would be reported as one object accounted for twice: the
run fails loudly, it never passes silently.)
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aws_lambda_powertools.metrics import MetricUnit

from landfall.batching import manifest_line
from landfall.costs import Prices, Usage, estimate, run_usage
from landfall.jobs import Job
from landfall.layout import (
    CURATED_PREFIX,
    QUARANTINE_PREFIX,
    redrive_manifest_key,
    report_key,
    results_prefix,
)
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
from landfall.results import ResultRecord, find_manifest, iter_records, read_manifest

MAX_REPORTED_FAILURES = 1000  # in report.json/.md; every one is in the redrive manifest

# outcome of each manifest object
_UNSEEN, _PROCESSED, _FAILED_OBJECT, _FAILED_BATCH, _PENDING = range(5)
_OUTCOME_NAMES = {_PROCESSED: "processed", _FAILED_OBJECT: "failed", _FAILED_BATCH: "batch", _PENDING: "pending"}


class _ObjectId(msgspec.Struct):
    bucket: str
    key: str
    version_id: str | None = None
    size: int = 0


class _Batch(msgspec.Struct):
    """A manifest line, its objects kept as raw JSON (a redrive manifest copies them as they are)."""

    objects: list[msgspec.Raw]


_batch_line = msgspec.json.Decoder(_Batch)
_object_id = msgspec.json.Decoder(_ObjectId)


def _digest(bucket: str, key: str, version_id: str | None) -> int:
    identity = f"{bucket}\0{key}\0{version_id or ''}".encode()
    return int.from_bytes(hashlib.blake2b(identity, digest_size=8).digest())


def _where(bucket: str, key: str, version_id: str | None) -> str:
    return f"s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")


def _manifest_batches(s3_client, bucket: str, key: str) -> Iterator[list[tuple[msgspec.Raw, _ObjectId]]]:
    """The manifest's batches, each a list of its objects: (JSON, identity)."""
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines(chunk_size=1 << 20):
        if line.strip():
            yield [(raw, _object_id.decode(raw)) for raw in _batch_line.decode(line).objects]


class _Ledger:
    """Where each manifest object went: accounted exactly once, or named as a problem.

    Nine bytes per object: its digest in a sorted array (found by bisection) and its outcome."""

    def __init__(self, s3_client, bucket: str, key: str) -> None:
        batches = _manifest_batches(s3_client, bucket, key)
        digests = array("Q", (_digest(o.bucket, o.key, o.version_id) for batch in batches for _, o in batch))
        self.digests = array("Q", sorted(digests))
        self.outcomes = bytearray(len(self.digests))
        self.problems: list[str] = []

    def position(self, digest: int) -> int | None:
        at = bisect_left(self.digests, digest)
        return at if at < len(self.digests) and self.digests[at] == digest else None

    def account(self, bucket: str, key: str, version_id: str | None, outcome: int) -> bool:
        position = self.position(_digest(bucket, key, version_id))
        name = _OUTCOME_NAMES[outcome]
        where = _where(bucket, key, version_id)
        if position is None:
            self.problems.append(f"{where} was {name} but is not in the manifest")
            return False
        if self.outcomes[position] != _UNSEEN:
            self.problems.append(f"{where} was {name} and {_OUTCOME_NAMES[self.outcomes[position]]}")
            return False
        self.outcomes[position] = outcome
        return True

    def outcome_of(self, identity: _ObjectId) -> int:
        position = self.position(_digest(identity.bucket, identity.key, identity.version_id))
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
        self.s3_gets += bool(summary.objects_key)  # written by the processor, read back by the reducer
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


class _Accounts:
    """What the result records say, accumulated: every object into the ledger, counts, failures,
    aggregates and what the run used."""

    def __init__(self, s3_client, bucket: str, ledger: _Ledger, job: Job) -> None:
        self.s3, self.bucket, self.ledger, self.job = s3_client, bucket, ledger, job
        self.tally = _Tally()  # plain counters: a pydantic model's attribute writes cost more, per object
        self.failures: list[ObjectFailure] = []
        self.aggregate = job.new_aggregate()
        self.costs = _Costs()

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
        self.costs.batches += 1
        self.costs.batch(summary)
        aggregates = self._spilled_aggregates(summary.aggregates_key) if summary.aggregates_key else summary.aggregates
        self._merge(aggregates, "a batch")
        for obj in _objects_of(self.s3, self.bucket, summary):
            self._object(obj)

    def _object(self, obj: ObjectSummary) -> None:
        tally = self.tally
        self.costs.s3_gets += obj.s3_gets
        self.costs.s3_puts += obj.s3_puts
        if obj.status == "failed":
            if self.ledger.account(obj.bucket, obj.key, obj.version_id, _FAILED_OBJECT):
                tally.failed += 1
                self._fail(obj.bucket, obj.key, obj.version_id, "object", obj.error or "")
            return
        if not self.ledger.account(obj.bucket, obj.key, obj.version_id, _PROCESSED):
            return
        tally.processed += 1
        tally.without_delimiters += obj.framing == "concatenated"
        tally.bytes_read += obj.bytes_read
        tally.read += obj.records
        tally.valid += obj.valid
        tally.rejected += obj.rejected
        for reason, n in obj.rejected_by_reason.items():
            tally.by_reason[reason] = tally.by_reason.get(reason, 0) + n
        if obj.records != obj.valid + obj.rejected:
            self.ledger.problems.append(
                f"{_where(obj.bucket, obj.key, obj.version_id)}: {obj.records} records read but "
                f"{obj.valid} valid + {obj.rejected} rejected"
            )

    def _unfinished(self, record: ResultRecord) -> None:
        """A failed (or timed-out, aborted) batch, or one never started: its objects from its input."""
        pending = record.kind == "PENDING"
        self.costs.batches += not pending  # a failed batch ran (its duration is not reported)
        error = f"{record.error}: {record.cause}" if record.error else f"batch {record.status.lower()}"
        items = _batch_items(record.input)
        if items is None:
            self.ledger.problems.append(f"a {record.kind} batch's input was not included: its objects are unknown")
            return
        outcome, kind = (_PENDING, "pending") if pending else (_FAILED_BATCH, "batch")
        for item in items:
            if self.ledger.account(item.bucket, item.key, item.version_id, outcome):
                if pending:
                    self.tally.pending += 1
                else:
                    self.tally.failed += 1
                self._fail(item.bucket, item.key, item.version_id, kind, error)

    def _fail(self, bucket: str, key: str, version_id: str | None, kind: str, error: str) -> None:
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append(
                ObjectFailure(bucket=bucket, key=key, version_id=version_id, kind=kind, error=error)  # type: ignore[arg-type]
            )

    def _spilled_aggregates(self, key: str) -> dict[str, Any]:
        self.costs.s3_gets += 1  # written by the processor, read here
        self.costs.s3_puts += 1
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)["aggregates"]

    def _merge(self, aggregates: dict[str, Any], source: str) -> None:
        """The job's merge is user code: if it fails, the report says so and still accounts for every object."""
        if not aggregates:
            return
        try:
            self.aggregate = self.job.merge(self.aggregate, aggregates)
        except Exception as error:
            self.ledger.problems.append(
                f"the aggregates of {source} could not be merged: {type(error).__name__}: {error}"
            )


def reduce_run(event: ReducerEvent, s3_client, job: Job, prices: Prices | None = None, memory_mb: int = 0) -> RunReport:
    """Read the run's results, reconcile them with its manifest, write and return the report."""
    started = time.monotonic()
    bucket = event.output_bucket
    ledger = _Ledger(s3_client, event.manifest.bucket, event.manifest.key)
    accounts = _Accounts(s3_client, bucket, ledger, job)
    results_key = find_manifest(s3_client, bucket, results_prefix(event.run_id))
    if results_key is None:
        ledger.problems.append("the map run wrote no results manifest")
    else:
        results = read_manifest(s3_client, bucket, results_key)
        accounts.costs.result_files = sum(len(files) for files in results["ResultFiles"].values())
        for record in iter_records(s3_client, results):
            accounts.add(record)
    tally, failures, aggregate, costs = accounts.tally, accounts.failures, accounts.aggregate, accounts.costs

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
        reducer_memory_mb=memory_mb or 1024,
        redrive_manifest=redrive_key is not None,
    )
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
        cost=estimate(usage, event.bytes, prices or Prices()),
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
    """Write the redrive manifest: each batch of the manifest with its objects that were not processed
    (failed, pending, unaccounted for), read again; also names the first unaccounted object."""
    first_missing = ""
    written = 0
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        for batch in _manifest_batches(s3_client, event.manifest.bucket, event.manifest.key):
            left = [(raw, ident) for raw, ident in batch if ledger.outcome_of(ident) != _PROCESSED]
            if not left:
                continue
            for _, ident in left:
                if not first_missing and ledger.outcome_of(ident) == _UNSEEN:
                    first_missing = _where(ident.bucket, ident.key, ident.version_id)
            size = sum(ident.size for _, ident in left)
            spool.write(manifest_line(size, [bytes(raw) for raw, _ in left]))
            written += len(left)
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
        lines += [f"- `{_where(f.bucket, f.key, f.version_id)}` ({f.kind}): {f.error}" for f in report.failures]
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
