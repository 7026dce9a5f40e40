"""`landfall status`, `report` and `redrive`: follow a run, read its report, re-run what it failed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from landfall.core.layout import progress_prefix, report_key
from landfall.ingest.manifests import StartedRun, execution_arn
from landfall.ingest.messages import ManifestBatch, ManifestItem
from landfall.process.counts import Counts
from landfall.reduce.messages import RunReport
from landfall.upkeep.messages import UpkeepReport
from landfall_cli.plan import RunPlan, Throughput
from landfall_cli.target import Target

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType

_ENDED: tuple[ExecutionStatusType, ...] = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class RunNotFound(LookupError):
    pass


@dataclass(frozen=True)
class MapProgress:
    """A map run's children (batches of objects) as Step Functions counts them."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0  # failed, timed out or aborted
    running: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def pending(self) -> int:
        return max(0, self.total - self.done - self.running)

    @classmethod
    def of(cls, sfn: SFNClient, execution_arn_: str, expected: int = 0) -> MapProgress:
        """The progress of the execution's map run (`expected` batches before the map run exists)."""
        map_runs = sfn.list_map_runs(executionArn=execution_arn_).get("mapRuns", [])
        if not map_runs:
            return cls(total=expected)
        counts = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])["itemCounts"]
        failed = counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0)
        return cls(counts.get("total", 0) or expected, counts.get("succeeded", 0), failed, counts.get("running", 0))


class ProgressReader:
    """A run's objects and records so far, from the counts each finished batch wrote: one LIST a poll,
    and one GET for each batch that finished (or was retried) since the last."""

    def __init__(self, s3: S3Client, bucket: str, run_id: str) -> None:
        self.s3, self.bucket, self.run_id = s3, bucket, run_id
        self._batches: dict[str, tuple[str, Counts]] = {}  # key → (ETag, counts)

    def read(self) -> Counts:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=progress_prefix(self.run_id)
        ):
            for entry in page.get("Contents", []):
                known = self._batches.get(entry["Key"])
                if known is None or known[0] != entry["ETag"]:
                    body = self.s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read()
                    self._batches[entry["Key"]] = (entry["ETag"], _counts(body))
        total = Counts()
        for _, counts in self._batches.values():
            total.add(counts)
        return total


def _counts(marker: bytes) -> Counts:
    """A batch's counts; a marker of the previous version's shape counts nothing (its run's report will)."""
    try:
        return Counts.from_json(marker)
    except msgspec.ValidationError:
        return Counts()


@dataclass(frozen=True)
class RunStatus:
    """An execution's status, and its objects and records so far; `objects` is how many the manifest
    holds. The map's failed batches are counted apart: their objects are known when the run ends."""

    status: ExecutionStatusType  # the execution's, as Step Functions names it
    objects: int
    progress: Counts
    batches: MapProgress
    error: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in _ENDED


def run_status(target: Target, run_id: str, reader: ProgressReader | None = None) -> RunStatus:
    """The execution's status, as Step Functions reports it, and the run's progress in objects."""
    arn = execution_arn(target.state_machine_arn, run_id)
    try:
        execution = target.sfn.describe_execution(executionArn=arn)
    except target.sfn.exceptions.ExecutionDoesNotExist:
        raise RunNotFound(f"no run {run_id} in {target.where}") from None
    execution_input = json.loads(execution.get("input", "{}"))
    batches = MapProgress.of(target.sfn, arn, expected=execution_input.get("batches", 0))
    progress = (reader or ProgressReader(target.s3, target.pipeline_bucket, run_id)).read()
    error = execution.get("error")
    if error:
        error = f"{error}: {execution.get('cause', '')}".strip(": ")
    return RunStatus(execution["status"], execution_input.get("objects", 0), progress, batches, error)


def follow(
    target: Target, run_id: str, console: Console, interval: float = 1.0, timeout: float | None = None
) -> RunStatus:
    """A live progress bar of the run's objects until it ends (or `timeout` seconds pass)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    reader = ProgressReader(target.s3, target.pipeline_bucket, run_id)
    status = run_status(target, run_id, reader)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "objects · {task.fields[failed]} failed · {task.fields[records]:,} records, "
            "{task.fields[rejected]:,} rejected"
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(run_id, total=status.objects or None, failed=0, records=0, rejected=0)
        while True:
            done = status.progress
            bar.update(
                task,
                total=status.objects or None,
                completed=done.done,
                failed=done.objects.failed,
                records=done.records.read,
                rejected=done.records.rejected,
            )
            if status.ended or (deadline is not None and time.monotonic() >= deadline):
                return status
            time.sleep(interval)
            status = run_status(target, run_id, reader)


def status_line(run_id: str, status: RunStatus, report: RunReport | None) -> str:
    """One line in objects and records: the report's once the run has one, the progress before."""
    if report is not None:
        objects, records = report.objects, report.records
        share = f" ({100 * records.rejected / records.read:.1f} %)" if records.read else ""
        for_good = f" ({objects.failed_for_good:,} for good)" if objects.failed_for_good else ""
        return (
            f"{run_id}: {report.status} — {objects.in_manifest:,} objects: {objects.processed:,} processed, "
            f"{objects.failed:,} failed{for_good}, {objects.pending:,} pending; {records.read:,} records: "
            f"{records.valid:,} valid, {records.rejected:,} rejected{share}"
        )
    done = status.progress
    line = (
        f"{run_id}: {status.status} — {done.done:,} of {status.objects:,} objects done "
        f"({done.objects.failed:,} failed); {done.records.read:,} records, {done.records.rejected:,} rejected"
    )
    if status.batches.failed:
        line += f"; {status.batches.failed:,} batches failed (their objects are counted in the report)"
    return line + (f" — {status.error}" if status.error else "")


def find_report(target: Target, run_id: str) -> RunReport | None:
    try:
        return RunReport.model_validate_json(read_report(target, run_id))
    except RunNotFound:
        return None


def read_report(target: Target, run_id: str, name: str = "report.json") -> bytes:
    try:
        return target.s3.get_object(Bucket=target.pipeline_bucket, Key=report_key(run_id, name))["Body"].read()
    except target.s3.exceptions.NoSuchKey:
        raise RunNotFound(f"run {run_id} has no report in s3://{target.pipeline_bucket}/ (yet)") from None


def print_report(target: Target, run_id: str, console: Console, as_json: bool = False) -> RunReport | UpkeepReport:
    """A pipeline run's report, or an upkeep run's (`landfall compact`): as markdown, or its model."""
    body = read_report(target, run_id)
    report: RunReport | UpkeepReport
    if json.loads(body).get("kind") == "upkeep":
        report = UpkeepReport.model_validate_json(body)
    else:
        report = RunReport.model_validate_json(body)
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        text = read_report(target, run_id, "report.md").decode()
        console.print(Markdown(text) if console.is_terminal else text, soft_wrap=True)
    return report


def _manifest_items(target: Target, bucket: str, key: str) -> Iterator[ManifestItem]:
    body = target.s3.get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines():
        if line.strip():
            yield from ManifestBatch.model_validate_json(line).objects


def redrive(target: Target, run_id: str, dry_run: bool = False) -> tuple[RunPlan, StartedRun | None]:
    """Start a run (source `redrive`) of the objects the run failed or left pending, from its report's
    redrive manifest. Redriving the same run twice starts one run."""
    report = RunReport.model_validate_json(read_report(target, run_id))
    plan = RunPlan(target.config)
    key = report.outputs.redrive_manifest_key
    if not key:
        return plan, None
    starter = target.starter()
    builder = None if dry_run else starter.builder()
    for item in _manifest_items(target, report.outputs.bucket, key):
        plan.add(item)
        if builder is not None:
            builder.add(item)
    return plan, (starter.start(builder, "redrive") if builder is not None else None)


def nothing_to_redrive(run_id: str, report: RunReport | None) -> str:
    """What `landfall redrive` says when the plan is empty: why nothing can run again."""
    if report is None or not report.objects.failed_for_good:
        return f"{run_id} has nothing to redrive"
    count = report.objects.failed_for_good
    causes = ", ".join(f"{cause.objects:,} {cause.title}" for cause in report.failure_causes if not cause.retryable)
    return (
        f"{run_id} has nothing to redrive: its {count:,} failed object{'' if count == 1 else 's'} cannot succeed "
        f"on a retry ({causes}); `landfall report {run_id}` says what to do instead"
    )


def plan_rows(plan: RunPlan, target: Target, list_requests: int = 0) -> list[tuple[str, str]]:
    """The dry-run table: what a run will do and what it will cost."""
    cost = plan.cost(target.processor_memory_mb, target.reducer_memory_mb, list_requests=list_requests)
    duration = plan.duration_seconds(Throughput())
    return [
        ("objects", f"{plan.objects:,}"),
        ("bytes (as stored)", f"{plan.bytes:,} ({plan.bytes / 1e9:.3f} GB)"),
        ("batches = child executions", f"{plan.batches:,} (largest {plan.largest_batch_bytes / 2**20:,.0f} MiB)"),
        (
            "objects larger than a batch",
            f"{plan.larger_than_a_batch:,}" + (" (each alone)" if plan.larger_than_a_batch else ""),
        ),
        ("max concurrency", str(target.config.max_concurrency or "10,000 (unlimited)")),
        ("expected duration", f"{duration / 60:.1f} min"),
        ("Lambda", f"${cost.lambda_usd:,.4f} ({cost.usage.lambda_gb_seconds:,.0f} GB-s)"),
        ("Step Functions", f"${cost.step_functions_usd:,.4f} ({cost.usage.state_transitions:,} transitions)"),
        ("S3 requests", f"${cost.s3_usd:,.4f} ({cost.usage.s3_gets:,} GET, {cost.usage.s3_puts:,} PUT/LIST)"),
        ("estimated cost", f"${cost.total_usd:,.4f}" + (f" (${cost.usd_per_gb:.4f}/GB)" if cost.usd_per_gb else "")),
    ]
