"""The reducer's work: merge every batch summary into the run report and prove nothing was lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

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
from landfall.runs import manifest_body


def _manifest_items(s3_client, bucket: str, key: str) -> Iterator[ManifestItem]:
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines():
        if line.strip():
            yield ManifestItem.model_validate_json(line)


def _identity(bucket: str, key: str) -> tuple[str, str]:
    return (bucket, key)


def reduce_run(event: ReducerEvent, s3_client, job: Job) -> RunReport:
    """Read the run's results, reconcile them with its manifest, write and return the report."""
    bucket = event.output_bucket
    expected = {
        _identity(item.bucket, item.key): item
        for item in _manifest_items(s3_client, event.manifest.bucket, event.manifest.key)
    }
    accounted: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    failures: list[ObjectFailure] = []
    records = RecordCounts()
    counts = Counts(in_manifest=len(expected))
    aggregate = job.new_aggregate()
    bytes_read = 0

    def account(bucket_: str, key: str, outcome: str) -> bool:
        identity = _identity(bucket_, key)
        if identity not in expected:
            problems.append(f"s3://{bucket_}/{key} was {outcome} but is not in the manifest")
            return False
        if identity in accounted:
            problems.append(f"s3://{bucket_}/{key} was {outcome} and {accounted[identity]}")
            return False
        accounted[identity] = outcome
        return True

    results_key = find_manifest(s3_client, bucket, results_prefix(event.run_id))
    if results_key is None:
        problems.append("the map run wrote no results manifest")
    else:
        for record in iter_records(s3_client, read_manifest(s3_client, bucket, results_key)):
            if record.kind == "SUCCEEDED":
                summary = BatchSummary.model_validate(record.output)
                aggregate = job.merge(aggregate, summary.aggregates)
                for obj in _objects_of(s3_client, bucket, summary):
                    if not account(obj.bucket, obj.key, obj.status):
                        continue
                    if obj.status == "failed":
                        counts.failed += 1
                        failures.append(
                            ObjectFailure(bucket=obj.bucket, key=obj.key, kind="object", error=obj.error or "")
                        )
                        continue
                    counts.processed += 1
                    counts.without_delimiters += obj.framing == "concatenated"
                    bytes_read += obj.bytes_read
                    records.read += obj.records
                    records.valid += obj.valid
                    records.rejected += obj.rejected
                    for reason, n in obj.rejected_by_reason.items():
                        records.rejected_by_reason[reason] = records.rejected_by_reason.get(reason, 0) + n
                    if obj.records != obj.valid + obj.rejected:
                        problems.append(
                            f"s3://{obj.bucket}/{obj.key}: {obj.records} records read but "
                            f"{obj.valid} valid + {obj.rejected} rejected"
                        )
                    if obj.aggregates:  # summaries of older processors carried them per object
                        aggregate = job.merge(aggregate, obj.aggregates)
            else:
                kind = "batch" if record.kind == "FAILED" else "pending"
                error = f"{record.error}: {record.cause}" if record.error else f"batch {record.status.lower()}"
                for item in _batch_items(record.input):
                    if account(item.bucket, item.key, kind):
                        if kind == "pending":
                            counts.pending += 1
                        else:
                            counts.failed += 1
                        failures.append(ObjectFailure(bucket=item.bucket, key=item.key, kind=kind, error=error))

    missing = [identity for identity in expected if identity not in accounted]
    if missing:
        problems.append(
            f"{len(missing)} manifest objects are not accounted for, e.g. s3://{missing[0][0]}/{missing[0][1]}"
        )
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
    status, status_reason = _status(problems, map_error, len(failures), counts.in_manifest, event.config)

    redrive_key = None
    to_redrive = [expected[_identity(f.bucket, f.key)] for f in failures]
    to_redrive += [expected[identity] for identity in missing]
    if to_redrive:
        redrive_key = redrive_manifest_key(event.run_id)
        s3_client.put_object(Bucket=bucket, Key=redrive_key, Body=manifest_body(to_redrive))

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
        reconciliation=Reconciliation(ok=not problems, problems=problems),
        outputs=RunOutputs(
            bucket=bucket,
            curated_prefix=CURATED_PREFIX,
            quarantine_prefix=f"{QUARANTINE_PREFIX}{event.run_id}/",
            report_key=report_key(event.run_id),
            redrive_manifest_key=redrive_key,
        ),
    )
    s3_client.put_object(Bucket=bucket, Key=report.outputs.report_key, Body=report.model_dump_json(indent=2))
    s3_client.put_object(
        Bucket=bucket, Key=report_key(event.run_id, "report.md"), Body=render_markdown(report).encode()
    )
    logger.info("run reduced", extra={"run_id": event.run_id, "status": status})
    metrics.add_metric(name="RunObjects", unit=MetricUnit.Count, value=counts.in_manifest)
    metrics.add_metric(name="RunObjectsFailed", unit=MetricUnit.Count, value=counts.failed + counts.pending)
    metrics.add_metric(name="RunRecords", unit=MetricUnit.Count, value=records.read)
    metrics.add_metric(name="RunRecordsRejected", unit=MetricUnit.Count, value=records.rejected)
    metrics.add_metric(name="RunBytes", unit=MetricUnit.Bytes, value=bytes_read)
    metrics.add_metric(name="RunsNotReconciled", unit=MetricUnit.Count, value=int(bool(problems)))
    return report


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


def _batch_items(batch_input: Any) -> list[ManifestItem]:
    if not isinstance(batch_input, dict):
        return []
    return [ManifestItem.model_validate(item) for item in batch_input.get("Items", [])]


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
