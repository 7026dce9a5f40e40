"""`landfall status`, `report` and `redrive`: follow a run, read its report, re-run what it failed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from landfall.layout import report_key
from landfall.manifests import StartedRun, execution_arn
from landfall.models import ManifestBatch, ManifestItem, RunReport
from landfall_cli.plan import RunPlan, Throughput
from landfall_cli.target import Target

_ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


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
    def of(cls, sfn, execution_arn_: str, expected: int = 0) -> MapProgress:
        """The progress of the execution's map run (`expected` batches before the map run exists)."""
        map_runs = sfn.list_map_runs(executionArn=execution_arn_).get("mapRuns", [])
        if not map_runs:
            return cls(total=expected)
        counts = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])["itemCounts"]
        failed = counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0)
        return cls(counts.get("total", 0) or expected, counts.get("succeeded", 0), failed, counts.get("running", 0))


@dataclass(frozen=True)
class RunStatus:
    """An execution's status and its map run's progress; `objects` is how many the manifest holds."""

    status: str  # the execution's: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    objects: int
    batches: MapProgress
    error: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in _ENDED


def run_status(target: Target, run_id: str) -> RunStatus:
    """The execution's status and its map run's progress, as Step Functions reports them."""
    arn = execution_arn(target.state_machine_arn, run_id)
    try:
        execution = target.sfn.describe_execution(executionArn=arn)
    except target.sfn.exceptions.ExecutionDoesNotExist:
        raise RunNotFound(f"no run {run_id} in {target.where}") from None
    execution_input = json.loads(execution.get("input", "{}"))
    progress = MapProgress.of(target.sfn, arn, expected=execution_input.get("batches", 0))
    error = execution.get("error")
    if error:
        error = f"{error}: {execution.get('cause', '')}".strip(": ")
    return RunStatus(execution["status"], execution_input.get("objects", 0), progress, error)


def follow(
    target: Target, run_id: str, console: Console, interval: float = 1.0, timeout: float | None = None
) -> RunStatus:
    """A live progress bar of the run's batches until it ends (or `timeout` seconds pass)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    status = run_status(target, run_id)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(run_id, total=status.batches.total or None, failed=0)
        while True:
            batches = status.batches
            progress.update(task, total=batches.total or None, completed=batches.done, failed=batches.failed)
            if status.ended or (deadline is not None and time.monotonic() >= deadline):
                return status
            time.sleep(interval)
            status = run_status(target, run_id)


def read_report(target: Target, run_id: str, name: str = "report.json") -> bytes:
    try:
        return target.s3.get_object(Bucket=target.pipeline_bucket, Key=report_key(run_id, name))["Body"].read()
    except target.s3.exceptions.NoSuchKey:
        raise RunNotFound(f"run {run_id} has no report in s3://{target.pipeline_bucket}/ (yet)") from None


def print_report(target: Target, run_id: str, console: Console, as_json: bool = False) -> RunReport:
    report = RunReport.model_validate_json(read_report(target, run_id))
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
