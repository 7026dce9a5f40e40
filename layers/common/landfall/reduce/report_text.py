"""report.md: the run report as someone acting on the run reads it, rendered from the one model.

Status and why; when it ran and with which settings; the counts (reconciled); warnings; the reasons
lines were rejected, each with its most frequent causes, counted, and an example of each; rows per
partition; the job's own tables; the objects with the most rejections; every failure, what to do for
those a retry cannot fix, and the command that runs the others again; where the curated table, the
quarantine and each object's outputs are; the timeline; the cost.
"""

from __future__ import annotations

from typing import Any

from landfall.core.costs import CostEstimate
from landfall.jobs import AggregateTable
from landfall.reduce.messages import ObjectFailure, ReasonSummary, RunReport
from landfall.reduce.report import TIMELINE_FILE, count_rows

PARTITION_ROWS = 48  # of the rows-per-partition table in report.md (report.json has more)


def render_markdown(report: RunReport) -> str:
    sections = [
        _head(report),
        _counts(report),
        _quality(report),
        _warnings(report),
        _rejections(report),
        _partitions(report),
        *(_table(t) for t in report.aggregate_tables),
        _worst(report),
        _failures(report),
        _outputs(report),
        _timeline(report),
        _cost(report.cost),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _head(report: RunReport) -> str:
    lines = [f"# Run {report.run_id}: {report.status}", "", report.status_reason]
    if report.timing:
        timing = report.timing
        started = f"{timing.started_at:%Y-%m-%d %H:%M:%S} UTC" if timing.started_at else "?"
        took = f", {timing.seconds:,.0f} s" if timing.seconds is not None else ""
        lines += ["", f"Started {started}, reported {timing.ended_at:%Y-%m-%d %H:%M:%S} UTC{took}."]
    if report.settings:
        s = report.settings
        lines.append(
            f"Job `{report.job}`; batches of up to {s.max_items_per_batch} objects and {s.max_batch_bytes >> 20} MiB, "
            f"{s.max_concurrency} at once; failures tolerated up to {s.tolerated_failure_percentage:g} %, "
            f"rejections warned above {s.rejected_warning_percentage:g} %."
        )
    return "\n".join(lines)


def _quality(report: RunReport) -> str:
    if report.quality is None or not report.quality.rules:
        return ""
    lines = ["## Quality", "", "| rule | observed | bound | outcome |", "|---|---:|---|---|"]
    for result in report.quality.rules:
        observed = f"{result.observed:,.6g}" if result.observed is not None else "–"
        outcome = f"**{result.outcome}** ({result.severity})" if result.outcome == "breached" else result.outcome
        lines.append(f"| `{result.rule}` | {observed} | {result.bound} | {outcome} |")
    lines += ["", "![the rules over the last runs](quality.svg)"]
    return "\n".join(lines)


def _counts(report: RunReport) -> str:
    rows = count_rows(report.objects, report.records)
    lines = [
        "| " + " | ".join(title for title, _ in rows) + " |",
        "|" + "---:|" * len(rows),
        "| " + " | ".join(f"{value:,}" for _, value in rows) + " |",
        "",
        f"Reconciliation: {'everything accounted for' if report.reconciliation.ok else 'FAILED'}",
    ]
    return "\n".join(lines + [f"- {problem}" for problem in report.reconciliation.problems])


def _warnings(report: RunReport) -> str:
    return "\n".join(["## Warnings", "", *(f"- ⚠ {w}" for w in report.warnings)]) if report.warnings else ""


def _rejections(report: RunReport) -> str:
    if not report.rejections:
        return ""
    return "\n\n".join(["## Rejected lines by reason", *(_reason(reason) for reason in report.rejections)])


def _reason(reason: ReasonSummary) -> str:
    """A reason's most frequent causes (a detail without the line's own values), each with its first line."""
    lines = [f"### {reason.reason}: {reason.count:,} line{'' if reason.count == 1 else 's'}"]
    if reason.details:
        lines += ["", "| lines | cause | example |", "|---:|---|---|"]
    for detail in reason.details:
        example = detail.example
        said = f" ({_cell(example.detail, 100)})" if example.detail != detail.detail else ""
        lines.append(
            f"| {detail.count:,} | {_cell(detail.detail)} | `{detail.source}` line {example.line}{said}: "
            f"`{_cell(example.raw, 80)}` |"
        )
    if reason.details and reason.other:
        lines.append(f"| {reason.other:,} | other causes | |")
    if not reason.exact:
        lines += ["", "Counts may be low: some lines' causes were not told apart (an object or the run had too many)."]
    return "\n".join(lines)


def _partitions(report: RunReport) -> str:
    if not report.rows_by_partition:
        return ""
    rows = list(report.rows_by_partition.items())
    lines = ["## Rows written per partition", "", "| partition | rows |", "|---|---:|"]
    lines += [f"| {partition} | {count:,} |" for partition, count in rows[:PARTITION_ROWS]]
    if len(rows) > PARTITION_ROWS:
        rest = sum(count for _, count in rows[PARTITION_ROWS:])
        lines.append(f"| … {len(rows) - PARTITION_ROWS} more (report.json) | {rest:,} |")
    return "\n".join(lines)


def _table(table: AggregateTable) -> str:
    lines = [f"## {table.title}", "", "| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_value(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _worst(report: RunReport) -> str:
    if not report.worst_objects:
        return ""
    lines = ["## Objects with the most rejected lines", "", "| object | lines | rejected |", "|---|---:|---:|"]
    lines += [f"| `{o.url}` | {o.records:,} | {o.rejected:,} |" for o in report.worst_objects]
    return "\n".join(lines)


def _failures(report: RunReport) -> str:
    if not report.failures:
        return ""
    lines = ["## Failures", ""]
    if report.failure_causes:
        lines += ["Objects that could not be read, by cause:", ""]
        lines += [
            f"- **{c.title}** ({c.objects:,} object{'' if c.objects == 1 else 's'}"
            f"{'' if c.retryable else ', not redriven: a retry cannot fix it'}): {c.advice}"
            for c in report.failure_causes
        ] + [""]
    lines += [_failure(f) for f in report.failures]
    if report.failures_omitted:
        lines.append(
            f"- … and {report.failures_omitted} more: objects.jsonl lists every one, the redrive manifest "
            "those a retry can fix"
        )
    if report.redrive_command:
        them = "the others (a retry can fix them)" if report.objects.failed_for_good else "them"
        lines += ["", f"Run {them} again: `{report.redrive_command}`"]
    else:
        lines += ["", "Nothing to redrive: a retry cannot fix any of them (see above for what to do instead)."]
    return "\n".join(lines)


def _failure(failure: ObjectFailure) -> str:
    why = failure.kind if failure.cause is None else f"{failure.kind}, {failure.cause}"
    return f"- `{failure.url}` ({why}{'' if failure.retryable else ', not redriven'}): {failure.error}"


def _commit(report: RunReport) -> str:
    """What the run added to the Iceberg table, in a line."""
    table = report.table
    if table is None:
        return "- the table: no commit (no table configured)"
    if table.skipped:
        return f"- the table `{table.table}`: not committed: {table.skipped}"
    if table.snapshot_id is None:
        what = "its rows were committed before" if table.earlier else "no row to add"
    else:
        what = f"snapshot {table.snapshot_id}: {table.files:,} files, {table.rows:,} rows, {table.attempts} attempt(s)"
    if table.duplicate_objects:
        what += f"; {table.duplicate_objects:,} objects the table held already were not added again"
    if table.deferred_objects:
        what += f"; {table.deferred_objects:,} objects that shared their files were left out"
    return f"- the table `{table.table}`: {what} (metadata: `{table.metadata_location}`)"


def _outputs(report: RunReport) -> str:
    outputs = report.outputs
    lines = [
        "## Where the output is",
        "",
        _commit(report),
        f"- the curated table's files: `s3://{outputs.bucket}/{outputs.curated_prefix}`",
        f"- the quarantine: `s3://{outputs.bucket}/{outputs.quarantine_prefix}`",
    ]
    if outputs.objects_key:
        lines.append(f"- each source object's partitions and quarantine: `s3://{outputs.bucket}/{outputs.objects_key}`")
    if outputs.redrive_manifest_key:
        lines.append(f"- the redrive manifest: `s3://{outputs.bucket}/{outputs.redrive_manifest_key}`")
    return "\n".join(lines)


def _timeline(report: RunReport) -> str:
    return f"## Timeline\n\n![the map run's children over time]({TIMELINE_FILE})" if report.outputs.timeline_key else ""


def _cost(cost: CostEstimate | None) -> str:
    if cost is None:
        return ""
    per_gb = f", ${cost.usd_per_gb:.4f} per GB of input" if cost.usd_per_gb else ""
    usage = cost.usage
    return (
        f"Estimated AWS cost: **${cost.total_usd:.4f}**{per_gb} — Lambda ${cost.lambda_usd:.4f} "
        f"({usage.lambda_gb_seconds:.1f} GB-s), Step Functions ${cost.step_functions_usd:.4f} "
        f"({usage.state_transitions} transitions, {usage.express_requests} Express children), "
        f"S3 ${cost.s3_usd:.4f} ({usage.s3_gets} GET, {usage.s3_puts} PUT)"
    )


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else _cell(str(value))


def _cell(text: str, limit: int = 160) -> str:
    """Text fit for a table cell: one line, no pipes, no backticks, cut."""
    flat = " ".join(text.split()).replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
