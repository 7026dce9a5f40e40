"""The run report: its reconciliation, its status, and every view of it.

Each view — report.json, report.md, the state machine's output, the CLI's and the demo's tables — is
rendered from the one model (`landfall.models.RunReport`): the count tables list the fields of
`Counts` and `RecordCounts` under their titles, so a count added there shows everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from landfall.accumulator import ResultAccumulator, Tally
from landfall.costs import CostEstimate
from landfall.layout import QUARANTINE_PREFIX, curated_prefix, report_key
from landfall.ledger import Ledger
from landfall.models import (
    Counts,
    Reconciliation,
    RecordCounts,
    ReducerEvent,
    RunConfig,
    RunOutputs,
    RunReport,
    RunStatus,
)


def reconcile(ledger: Ledger, counts: Counts, records: RecordCounts, first_missing: str) -> list[str]:
    """Every problem of the run: the ledger's, objects nothing accounted for, counts that do not add up."""
    problems = list(ledger.problems)
    if ledger.unseen:
        problems.append(f"{ledger.unseen} manifest objects are not accounted for, e.g. {first_missing}")
    if counts.in_manifest != counts.processed + counts.failed + counts.pending:
        problems.append(
            f"{counts.in_manifest} objects in the manifest but {counts.processed} processed + "
            f"{counts.failed} failed + {counts.pending} pending"
        )
    if records.read != records.valid + records.rejected:
        problems.append(f"{records.read} records read but {records.valid} valid + {records.rejected} rejected")
    if records.written != records.valid:
        problems.append(f"{records.valid} valid records but {records.written} rows written to the table")
    return problems


def run_status(
    problems: list[str], map_error: str | None, failed: int, total: int, config: RunConfig
) -> tuple[RunStatus, str]:
    """FAILED when anything is unaccounted for, the map failed, or more objects failed than the run
    tolerates (objects a processor reported failed count as well as those of failed batches)."""
    tolerance = config.tolerated_failure_percentage
    if problems:
        return "FAILED", "the results do not reconcile with the manifest"
    if map_error:
        return "FAILED", f"the map run failed: {map_error}"
    if not failed:
        return "SUCCEEDED", "every object was processed"
    share = 100.0 * failed / total if total else 100.0
    if share > tolerance:
        return "FAILED", f"{failed} of {total} objects failed ({share:.1f} % > {tolerance} %)"
    return "PARTIAL", f"{failed} of {total} objects failed, within the tolerated {tolerance} %"


def build_report(
    event: ReducerEvent,
    ledger: Ledger,
    accumulated: ResultAccumulator,
    redrive: tuple[str | None, str],
    cost: CostEstimate | None,
) -> RunReport:
    """The report of a reduced run: `redrive` is the redrive manifest's key and the first object
    nothing accounted for (see `ledger.write_redrive`)."""
    tally = accumulated.tally
    counts, records = _counts(ledger, tally)
    redrive_key, first_missing = redrive
    problems = reconcile(ledger, counts, records, first_missing)
    map_error = f"{event.map_error.get('Error')}: {event.map_error.get('Cause')}" if event.map_error else None
    failed = counts.failed + counts.pending
    status, status_reason = run_status(problems, map_error, failed, counts.in_manifest, event.config)
    failures = accumulated.failures
    return RunReport(
        run_id=event.run_id,
        status=status,
        status_reason=status_reason,
        map_error=map_error,
        objects=counts,
        records=records,
        bytes_read=tally.bytes_read,
        aggregates=accumulated.aggregate,
        failures=failures,
        failures_omitted=max(0, failed - len(failures)),
        reconciliation=Reconciliation(ok=not problems, problems=problems),
        outputs=RunOutputs(
            bucket=event.output_bucket,
            curated_prefix=curated_prefix(accumulated.job.name),
            quarantine_prefix=f"{QUARANTINE_PREFIX}{event.run_id}/",
            report_key=report_key(event.run_id),
            redrive_manifest_key=redrive_key,
        ),
        cost=cost,
    )


def _counts(ledger: Ledger, tally: Tally) -> tuple[Counts, RecordCounts]:
    objects = Counts(in_manifest=ledger.objects, processed=tally.processed, failed=tally.failed,
                     pending=tally.pending, without_delimiters=tally.without_delimiters)  # fmt: skip
    records = RecordCounts(read=tally.read, valid=tally.valid, rejected=tally.rejected, written=tally.written,
                           rejected_by_reason=tally.by_reason)  # fmt: skip
    return objects, records


# ------------------------------------------------------------------------------------------ views


def count_rows(objects: Counts, records: RecordCounts) -> list[tuple[str, int]]:
    """(title, value) of every count, in the models' order."""
    return [
        (str(info.title or name), value)
        for model in (objects, records)
        for name, info in type(model).model_fields.items()
        if isinstance(value := getattr(model, name), int)
    ]


def totals(reports: Iterable[RunReport]) -> tuple[Counts, RecordCounts]:
    """The counts of several runs added up, field by field."""
    objects, records = Counts(), RecordCounts()
    for report in reports:
        _add(objects, report.objects)
        _add(records, report.records)
        for reason, n in report.records.rejected_by_reason.items():
            records.rejected_by_reason[reason] = records.rejected_by_reason.get(reason, 0) + n
    return objects, records


def _add(into: BaseModel, more: BaseModel) -> None:
    for name in type(into).model_fields:
        value = getattr(more, name)
        if isinstance(value, int):
            setattr(into, name, getattr(into, name) + value)


def render_markdown(report: RunReport) -> str:
    rows = count_rows(report.objects, report.records)
    lines = [
        f"# Run {report.run_id}: {report.status}",
        "",
        report.status_reason,
        "",
        "| " + " | ".join(title for title, _ in rows) + " |",
        "|" + "---:|" * len(rows),
        "| " + " | ".join(str(value) for _, value in rows) + " |",
        "",
        f"Reconciliation: {'everything accounted for' if report.reconciliation.ok else 'FAILED'}",
    ]
    lines += [f"- {problem}" for problem in report.reconciliation.problems]
    lines += _aggregates_markdown(report.aggregates)
    if report.failures:
        lines += ["", "## Failures", ""]
        lines += [f"- `{f.url}` ({f.kind}): {f.error}" for f in report.failures]
        if report.failures_omitted:
            lines.append(f"- … and {report.failures_omitted} more: every one is in the redrive manifest")
    if report.cost:
        lines += ["", _cost_markdown(report.cost)]
    outputs = report.outputs
    lines += [
        "",
        f"Curated output: `s3://{outputs.bucket}/{outputs.curated_prefix}`  ",
        f"Quarantine: `s3://{outputs.bucket}/{outputs.quarantine_prefix}`",
    ]
    if outputs.redrive_manifest_key:
        lines.append(f"Redrive manifest: `s3://{outputs.bucket}/{outputs.redrive_manifest_key}`")
    return "\n".join(lines) + "\n"


def _aggregates_markdown(aggregates: dict[str, Any]) -> list[str]:
    by_type: dict[str, Any] = aggregates.get("by_type", {})
    if not by_type:
        return []
    lines = ["", "| type | count | sum | min | max |", "|---|---:|---:|---:|---:|"]
    for kind, stats in sorted(by_type.items()):
        lines.append(f"| {kind} | {stats['count']} | {stats['sum']:.2f} | {stats['min']:.2f} | {stats['max']:.2f} |")
    return lines


def _cost_markdown(cost: CostEstimate) -> str:
    per_gb = f", ${cost.usd_per_gb:.4f} per GB of input" if cost.usd_per_gb else ""
    usage = cost.usage
    return (
        f"Estimated AWS cost: **${cost.total_usd:.4f}**{per_gb} — Lambda ${cost.lambda_usd:.4f} "
        f"({usage.lambda_gb_seconds:.1f} GB-s), Step Functions ${cost.step_functions_usd:.4f} "
        f"({usage.state_transitions} transitions, {usage.express_requests} Express children), "
        f"S3 ${cost.s3_usd:.4f} ({usage.s3_gets} GET, {usage.s3_puts} PUT)"
    )
