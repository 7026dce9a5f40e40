"""The reducer's work: read the map run's results, prove nothing was lost, write the run report.

Its steps are modules of their own: the ledger of the manifest's objects (`ledger`), what the result
records add up to (`accumulator`), and the report (`report`). Result files are streamed record by
record, so memory does not grow with the run. Last, a run whose every object is accounted for commits
its data files to the curated table in one snapshot (`landfall.commit`): its rows appear at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from landfall.commit.objects import RunFiles, TableMissing
from landfall.core.costs import Prices, estimate
from landfall.core.layout import report_key, results_prefix
from landfall.core.observability import logger, metrics
from landfall.core.results import find_manifest, read_manifest
from landfall.core.writers import upload_file
from landfall.jobs import Job
from landfall.jobs.quality import Drift
from landfall.process.profile import profiler_of
from landfall.reduce.accumulator import ResultAccumulator
from landfall.reduce.ledger import Ledger, write_redrive
from landfall.reduce.messages import ReducerEvent, RunReport, TableCommit
from landfall.reduce.orphans import KeySet, orphaned_files
from landfall.reduce.quality import QualityRecord, RuleResult, RunQuality, check_run, read_history, write_record
from landfall.reduce.quality_chart import draw_trend
from landfall.reduce.report import OBJECTS_FILE, ReportContext, build_report
from landfall.reduce.report_text import render_markdown
from landfall.reduce.timeline import draw

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from landfall.commit.commits import Commit

# a run's id, its data files and their bucket → the commit (`landfall.commit.commits.RunCommitter`)
Committer = Callable[[str, RunFiles, str], "Commit"]
CHART_RUNS = 20  # the runs quality.svg draws, this one the last


def reduce_run(
    event: ReducerEvent,
    s3_client: S3Client,
    job: Job,
    prices: Prices | None = None,
    memory_mb: int = 0,
    redrive_with: str = "--stack STACK",
    committer: Committer | None = None,
) -> RunReport:
    """Read the run's results, reconcile them with its manifest, write and return the report (`redrive_with`:
    how the report's redrive command reaches this deployment)."""
    started = time.monotonic()
    written = s3_client.head_object(Bucket=event.manifest.bucket, Key=event.manifest.key)["LastModified"]
    ledger = Ledger(s3_client, event.manifest)
    accumulated = ResultAccumulator(s3_client, event.output_bucket, ledger, job)
    accumulated.add_map_run(_map_results(event, s3_client))
    redrive = write_redrive(s3_client, event.manifest, ledger, event.run_id, event.output_bucket)
    report = build_report(event, ledger, accumulated, redrive, ReportContext(written, redrive_with))
    report.table, deferred = commit_files(report, accumulated.files, committer, job.name)
    if deferred:
        _redrive_deferred(s3_client, event, ledger, report, (deferred, redrive_with))
    _name_orphans(s3_client, report, accumulated, job.name)
    check_quality(s3_client, report, accumulated, job)
    accumulated.files.close()
    usage = accumulated.usage.usage(
        reducer_seconds=time.monotonic() - started,  # the commit's time included
        reducer_memory_mb=memory_mb or 1024,
        redrive_manifest=bool(report.outputs.redrive_manifest_key),
        commit_attempts=report.table.attempts if report.table else 0,
    )
    report.cost = estimate(usage, event.bytes, prices or Prices())
    _write(s3_client, report, accumulated)
    _record_metrics(report)
    return report


def _redrive_deferred(
    s3_client: S3Client, event: ReducerEvent, ledger: Ledger, report: RunReport, left: tuple[frozenset[int], str]
) -> None:
    """Objects left out of the commit beside duplicates go into the redrive manifest: its run commits them
    (`left`: their digests, and how the redrive command reaches this deployment)."""
    deferred, redrive_with = left
    ledger.defer(deferred)
    key, _ = write_redrive(s3_client, event.manifest, ledger, event.run_id, event.output_bucket)
    report.outputs.redrive_manifest_key = key
    report.redrive_command = report.redrive_command or f".venv/bin/landfall redrive {event.run_id} {redrive_with}"
    report.warnings.append(
        f"{len(deferred)} objects were processed but not committed: their files also held rows of objects "
        "the table already had (a run over the same objects committed first); the redrive manifest has them"
    )


def check_quality(s3_client: S3Client, report: RunReport, accumulated: ResultAccumulator, job: Job) -> None:
    """The job's quality rules on the run: a breached `warn` rule is a warning, a breached `fail` rule
    fails the run; a reconciled run's measures are kept for the drift rules of the runs after it."""
    rules = profiler_of(job).rules
    if not rules:
        return
    looked_back = max((rule.runs for rule in rules if isinstance(rule, Drift)), default=CHART_RUNS)
    history = read_history(s3_client, report.outputs.bucket, job.name, max(looked_back, CHART_RUNS))
    rejected = {reason: tally.count for reason, tally in accumulated.details.reasons.items()}
    counts = (report.records.read, report.records.valid, rejected)
    report.quality = quality = check_run(accumulated.profile, counts, rules, history)
    report.warnings += [f"quality rule {r.rule}: {_observed(r)}, not {r.bound}" for r in quality.warned]
    if quality.failed and report.status != "FAILED":
        first = quality.failed[0]
        report.status = "FAILED"
        report.status_reason = f"quality rule {first.rule}: {_observed(first)}, not {first.bound}"
    if report.reconciliation.ok and report.timing is not None:
        record = QualityRecord(
            run_id=report.run_id, ended_at=report.timing.ended_at, measures=quality.measures, rules=quality.rules
        )
        write_record(s3_client, report.outputs.bucket, job.name, record)
        history = [record, *history]
    chart = draw_trend(history[:CHART_RUNS]).encode()
    s3_client.put_object(Bucket=report.outputs.bucket, Key=report_key(report.run_id, "quality.svg"), Body=chart)


def _observed(result: RuleResult) -> str:
    return f"{result.observed:,.6g}" if result.observed is not None else "nothing measured"


def _name_orphans(s3_client: S3Client, report: RunReport, accumulated: ResultAccumulator, table: str) -> None:
    named = KeySet(file.key for file in accumulated.files)
    report.orphaned_files = orphans = orphaned_files(s3_client, report.outputs.bucket, table, report.run_id, named)
    if orphans.count:
        report.warnings.append(
            f"{orphans.count:,} data files ({orphans.bytes:,} bytes) under {orphans.prefix} were left by batches "
            "that stopped before removing them: no snapshot holds them, so no reader sees them; "
            "report.json's orphaned_files names them, to delete"
        )


def commit_files(
    report: RunReport, files: RunFiles, committer: Committer | None, table: str
) -> tuple[TableCommit | None, frozenset[int]]:
    """Commit the run's files, unless some object is unaccounted for: a run that cannot prove where its
    records went shows none of them (its files stay, named in objects.jsonl, for the redrive's run).
    Returns what the report says of it, and the objects left out beside duplicates (digests)."""
    if committer is None:
        return None, frozenset()
    if not report.reconciliation.ok:
        skipped = "the run is not reconciled: nothing committed"
        return TableCommit(table=table, files=len(files), skipped=skipped), frozenset()
    try:
        commit = committer(report.run_id, files, report.outputs.bucket)
    except TableMissing as missing:  # the files stay: a redrive after the deploy commits them
        report.warnings.append(f"the run's files were not committed: {missing}")
        return TableCommit(table=table, files=len(files), skipped=str(missing)), frozenset()
    logger.info("run committed", extra={"run_id": report.run_id, "snapshot_id": commit.snapshot_id})
    return _table_commit(table, commit), commit.deferred


def _table_commit(table: str, commit: Commit) -> TableCommit:
    return TableCommit(
        table=table,
        snapshot_id=commit.snapshot_id,
        metadata_location=commit.metadata_location,
        files=commit.files,
        rows=commit.rows,
        attempts=commit.attempts,
        seconds=round(commit.seconds, 3),
        earlier=commit.earlier,
        duplicate_objects=len(commit.duplicates),
        deferred_objects=len(commit.deferred),
        left_out_files=list(commit.left_out),
    )


def _map_results(event: ReducerEvent, s3_client: S3Client) -> dict[str, Any] | None:
    """The map run's results manifest: the ResultWriter files it wrote (None: it wrote none)."""
    key = find_manifest(s3_client, event.output_bucket, results_prefix(event.run_id))
    return None if key is None else read_manifest(s3_client, event.output_bucket, key)


def _write(s3_client: S3Client, report: RunReport, accumulated: ResultAccumulator) -> None:
    """report.json and report.md, each object's outputs (streamed from their spooled file), the timeline."""
    bucket, outputs = report.outputs.bucket, report.outputs
    details = accumulated.details
    with details.objects_file as objects:
        objects.seek(0)
        upload_file(s3_client, objects, bucket, report_key(report.run_id, OBJECTS_FILE))
    if outputs.timeline_key is not None:  # the report says where its timeline is (build_report always does)
        title = f"Run {report.run_id}: {report.status}"
        body = draw(details.children, title).encode()
        s3_client.put_object(Bucket=bucket, Key=outputs.timeline_key, Body=body, ContentType="image/svg+xml")
    s3_client.put_object(Bucket=bucket, Key=outputs.report_key, Body=report.model_dump_json(indent=2))
    s3_client.put_object(Bucket=bucket, Key=report_key(report.run_id, "report.md"), Body=render_markdown(report))
    logger.info("run reduced", extra={"run_id": report.run_id, "status": report.status})


def _record_metrics(report: RunReport) -> None:
    objects, records = report.objects, report.records
    metrics.add_metric(name="RunObjects", unit=MetricUnit.Count, value=objects.in_manifest)
    metrics.add_metric(name="RunObjectsFailed", unit=MetricUnit.Count, value=objects.failed + objects.pending)
    metrics.add_metric(name="RunRecords", unit=MetricUnit.Count, value=records.read)
    metrics.add_metric(name="RunRecordsRejected", unit=MetricUnit.Count, value=records.rejected)
    metrics.add_metric(name="RunBytes", unit=MetricUnit.Bytes, value=report.bytes_read)
    metrics.add_metric(name="RunsNotReconciled", unit=MetricUnit.Count, value=int(not report.reconciliation.ok))
    if report.quality is not None:
        _record_quality(report.quality)


def _record_quality(quality: RunQuality) -> None:
    """A metric a rule, its observed value (`Quality <rule>`: a dashboard's trend), and the breaches by
    severity (`QualityRuleAlarm` watches those of `fail` rules)."""
    metrics.add_metric(name="QualityRulesFailed", unit=MetricUnit.Count, value=len(quality.failed))
    metrics.add_metric(name="QualityRulesWarned", unit=MetricUnit.Count, value=len(quality.warned))
    for result in quality.rules:
        # an infinite lag (beyond the last bin) would be `Infinity` in the EMF log line: not JSON, every metric lost
        if result.observed is not None and math.isfinite(result.observed):
            metrics.add_metric(name=f"Quality {result.rule}", unit=MetricUnit.NoUnit, value=result.observed)
