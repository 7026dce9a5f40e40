"""The run report: its reconciliation, its status, its warnings, and the counts every view shows.

Each view — report.json, report.md (`report_text.py`), the state machine's output, the CLI's and the
demo's tables — is rendered from the one model (`landfall.reduce.messages.RunReport`); its counts are
the one counter model (`landfall.process.counts`), whose tables list every count under its title, so a
count added there shows everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from landfall.core.layout import QUARANTINE_PREFIX, curated_prefix, report_key
from landfall.ingest.messages import RunConfig
from landfall.jobs import AggregateTable
from landfall.process.counts import Counts, ObjectCounts, RecordCounts
from landfall.process.failures import REMEDIES
from landfall.reduce.accumulator import ResultAccumulator, Tally
from landfall.reduce.details import RunDetails
from landfall.reduce.ledger import Ledger
from landfall.reduce.messages import (
    FailureCauseSummary,
    Reconciliation,
    ReducerEvent,
    RunOutputs,
    RunReport,
    RunStatus,
    RunTiming,
)

OBJECTS_FILE = "objects.jsonl"  # every object's outputs, next to report.json
TIMELINE_FILE = "timeline.svg"


def reconcile(ledger: Ledger, counts: ObjectCounts, records: RecordCounts, first_missing: str) -> list[str]:
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


@dataclass(frozen=True)
class ReportContext:
    """What the report says that the results do not: when the run started, how to redrive it."""

    started_at: datetime | None = None
    redrive_with: str = "--stack STACK"  # how the `landfall` commands reach this deployment


def _what_was_read(accumulated: ResultAccumulator) -> dict[str, Any]:
    """The report's fields on the records themselves: rejections, partitions, worst objects, aggregates."""
    details = accumulated.details
    return {
        "rejections": details.top_reasons(),
        "rows_by_partition": details.partitions(),
        "worst_objects": details.worst_objects(),
        "aggregates": accumulated.aggregate,
        "aggregate_tables": _describe(accumulated),
    }


def build_report(
    event: ReducerEvent,
    ledger: Ledger,
    accumulated: ResultAccumulator,
    redrive: tuple[str | None, str],
    context: ReportContext | None = None,
) -> RunReport:
    """The report of a reduced run: `redrive` is the redrive manifest's key and the first object
    nothing accounted for (see `ledger.write_redrive`). Its cost is set once the run has committed."""
    context = context or ReportContext()
    tally, details = accumulated.tally, accumulated.details
    counts, records = tally.counts.objects, tally.counts.records
    counts.in_manifest = ledger.objects
    redrive_key, first_missing = redrive
    problems = reconcile(ledger, counts, records, first_missing)
    map_error = f"{event.map_error.get('Error')}: {event.map_error.get('Cause')}" if event.map_error else None
    failed = counts.failed + counts.pending
    status, status_reason = run_status(problems, map_error, failed, counts.in_manifest, event.config)
    return RunReport(
        run_id=event.run_id,
        status=status,
        status_reason=status_reason,
        map_error=map_error,
        job=accumulated.job.name,
        timing=_timing(context.started_at),
        settings=event.config,
        objects=counts,
        records=records,
        bytes_read=tally.bytes_read,
        warnings=_warnings(counts, records, details, event.config),
        **_what_was_read(accumulated),
        failures=accumulated.failures,
        failures_omitted=max(0, failed - len(accumulated.failures)),
        failure_causes=failure_causes(tally, context.redrive_with),
        redrive_command=f".venv/bin/landfall redrive {event.run_id} {context.redrive_with}" if redrive_key else None,
        reconciliation=Reconciliation(ok=not problems, problems=problems),
        outputs=_outputs(event, accumulated.job.name, redrive_key),
    )


def failure_causes(tally: Tally, redrive_with: str) -> list[FailureCauseSummary]:
    """Objects their processors could not read, by cause, each with what to do (those a retry cannot fix first)."""
    backfill = f".venv/bin/landfall backfill --prefix <its key> {redrive_with}"
    summaries = []
    for cause, objects in sorted(tally.by_cause.items(), key=lambda item: (REMEDIES[item[0]].retryable, item[0])):
        remedy = REMEDIES[cause]
        advice = remedy.advice.format(backfill=backfill)
        summaries.append(
            FailureCauseSummary(
                cause=cause, title=remedy.title, objects=objects, retryable=remedy.retryable, advice=advice
            )
        )
    return summaries


def _timing(started_at: datetime | None) -> RunTiming:
    ended = datetime.now(UTC)
    return RunTiming(
        started_at=started_at, ended_at=ended, seconds=(ended - started_at).total_seconds() if started_at else None
    )


def _outputs(event: ReducerEvent, table: str, redrive_key: str | None) -> RunOutputs:
    return RunOutputs(
        bucket=event.output_bucket,
        curated_prefix=curated_prefix(table),
        quarantine_prefix=f"{QUARANTINE_PREFIX}{event.run_id}/",
        report_key=report_key(event.run_id),
        objects_key=report_key(event.run_id, OBJECTS_FILE),
        timeline_key=report_key(event.run_id, TIMELINE_FILE),
        redrive_manifest_key=redrive_key,
    )


def _objects(count: int) -> str:
    return f"{count:,} object{'' if count == 1 else 's'}"


def _warnings(counts: ObjectCounts, records: RecordCounts, details: RunDetails, config: RunConfig) -> list[str]:
    """What someone acting on the run should look at, though nothing is unaccounted for."""
    warnings = []
    if again := counts.failed - counts.failed_for_good + counts.pending:
        warnings.append(
            f"{again} of {_objects(counts.in_manifest)} were not processed (see Failures): the redrive "
            "command runs them again"
        )
    if counts.failed_for_good:
        warnings.append(
            f"{_objects(counts.failed_for_good)} failed for good: a retry cannot fix them, and Failures "
            "says what to do instead"
        )
    if details.without_valid:
        named = ", ".join(details.named_without_valid)
        more = (
            f" and {details.without_valid - len(details.named_without_valid)} more"
            if details.without_valid > len(details.named_without_valid)
            else ""
        )
        warnings.append(f"{_objects(details.without_valid)} had no valid line (every line was rejected): {named}{more}")
    share = 100 * records.rejected / records.read if records.read else 0.0
    if share > config.rejected_warning_percentage:
        warnings.append(
            f"{share:.1f} % of the lines were rejected, above the {config.rejected_warning_percentage:g} %"
            " this run warns at (RejectedWarningPercentage)"
        )
    return warnings


def _describe(accumulated: ResultAccumulator) -> list[AggregateTable]:
    """The job's own tables of its aggregates (user code: a failure is named, and the report goes on)."""
    try:
        return accumulated.job.describe(accumulated.aggregate)
    except Exception as error:
        note = f"the job could not describe its aggregates: {type(error).__name__}: {error}"
        return [AggregateTable(title="Aggregates", columns=["note"], rows=[[note]])]


# ------------------------------------------------------------------------------------------ views


def count_rows(objects: ObjectCounts, records: RecordCounts) -> list[tuple[str, int]]:
    """(title, value) of every count of a run, in the models' order."""
    return Counts(objects, records).rows()


def totals(reports: Iterable[RunReport]) -> Counts:
    """The counts of several runs added up, field by field."""
    total = Counts()
    for report in reports:
        total.add(Counts(report.objects, report.records))
    return total
