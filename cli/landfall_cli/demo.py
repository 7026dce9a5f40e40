"""`landfall demo`: the whole pipeline on the embedded emulator, from landing to the run report.

Quiet by default: the functions' logs go to files (`--logs`, or a new folder under `.landfall/logs/`),
the terminal shows the live table and the summary (`--verbose` streams the logs instead). Every count
is of objects and records, and adds up on screen; whatever is off is said, and the exit status is
not 0: a failed, partial or unreconciled run, objects with no valid line, too many rejected lines.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table

from landfall.commit.tables import SchemaChangeRefused, allowed_changes
from landfall.core.layout import report_key, report_prefix
from landfall.jobs import load_job
from landfall.jobs.samples import Dataset, LandedObject, make_dataset
from landfall.process.counts import Counts
from landfall.reduce.messages import RunReport
from landfall.reduce.quality import QualityRecord
from landfall.reduce.report import totals
from landfall.table.schema import table_of
from landfall.upkeep.messages import UpkeepReport
from landfall_cli.iceberg_copy import local_metadata_file, localise, newest_metadata, open_copy
from landfall_cli.operate import ProgressReader
from landfall_cli.options import TEMPLATE, DemoOptions, landfall_command, local_data, project_dir, work_dir
from landfall_cli.quality import trend_table
from landfall_cli.query import DESCRIPTION, export_local, print_result, query_local, table_metadata_location
from landfall_cli.target import local_state_path, write_local_state
from landfall_cli.upkeep import upkeep_line
from landfall_emulator.emulator import Emulator, EmulatorTimeout, FunctionFailed, wait_for
from landfall_emulator.template import ParameterError, Stack, load_template

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

    from landfall.process.counts import ObjectCounts

# the template parameter each demo option sets, for messages that name the option
OPTION_OF = {
    "MaxItemsPerBatch": "--batch-size",
    "MaxConcurrency": "--concurrency",
    "ToleratedFailurePercentage": "--tolerated-failure-percentage",
    "RejectedWarningPercentage": "--max-rejected-percentage",
    "ExistingLandingBucket": "--existing-bucket",
    "LandingPrefix": "--landing-prefix",
}


def dataset_from_dir(source: Path) -> Dataset:
    """The user's own files (e.g. Firehose output they downloaded), landed as they are under the landing
    prefix (their `raw/` stands for it)."""
    dataset = Dataset()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        key = relative if relative.startswith("raw/") else f"raw/{relative}"
        dataset.objects.append(LandedObject(key=key, body=path.read_bytes(), records=-1, bad=-1))
    return dataset


@dataclass
class DemoRun:
    """One execution the demo follows: its status, and its objects and records so far."""

    reader: ProgressReader
    objects: int = 0
    status: ExecutionStatusType = "RUNNING"
    progress: Counts = field(default_factory=Counts)


def _progress_table(runs: dict[str, DemoRun]) -> Table:
    table = Table(title="Runs: objects and records so far", expand=False)
    table.add_column("run", overflow="fold")  # a run id whole, folded if the terminal is narrow
    for column in ("status", "objects done", "failed", "records", "rejected"):
        table.add_column(column, justify="left" if column == "status" else "right", no_wrap=True)
    for name, run in sorted(runs.items()):
        done = run.progress
        table.add_row(
            name,
            run.status,
            f"{done.done:,} of {run.objects:,}",
            f"{done.objects.failed:,}",
            f"{done.records.read:,}",
            f"{done.records.rejected:,}",
        )
    return table


def _poll_runs(emulator: Emulator, runs: dict[str, DemoRun], expected: set[str]) -> bool:
    """Refresh each execution's status and progress; True when the expected runs have all ended."""
    for execution in emulator.executions():
        run = runs.get(execution["name"])
        if run is None:
            described = emulator.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
            reader = ProgressReader(emulator.client("s3"), emulator.pipeline_bucket, execution["name"])
            run = runs[execution["name"]] = DemoRun(reader, objects=_objects_in(described))
        run.status = execution["status"]
        run.progress = run.reader.read()
    return expected <= runs.keys() and all(runs[name].status != "RUNNING" for name in expected)


def _objects_in(described: DescribeExecutionOutputTypeDef) -> int:
    return int(json.loads(described.get("input", "{}")).get("objects", 0))


def _overrides(options: DemoOptions) -> dict[str, str]:
    return {
        "IngestBatchSize": "10000",
        "IngestBatchingWindowSeconds": "2",
        "MaxItemsPerBatch": str(options.batch_size),
        "MaxConcurrency": str(options.concurrency),
        "ToleratedFailurePercentage": f"{options.tolerated_failure_percentage:g}",
        "RejectedWarningPercentage": f"{options.max_rejected_percentage:g}",
        "ExistingLandingBucket": options.existing_bucket or "",
        "LandingPrefix": options.landing_prefix,
    }


def _refused(template: Path, overrides: dict[str, str]) -> str | None:
    """The template's bounds, checked before anything starts, as CloudFormation checks them."""
    try:
        Stack(load_template(template), parameter_overrides=overrides)
    except ParameterError as error:
        parameter, _, reason = str(error).partition(": ")
        if parameter in OPTION_OF:
            parameter = f"{OPTION_OF[parameter]} ({parameter})"
        return f"{parameter}: {reason}" if reason else str(error)  # a parameter's bounds, or a Rule's
    return None


def table_refusal(project: Path, overrides: dict[str, str], data: Path) -> str | None:
    """What a deploy's Catalog resource would refuse (a column dropped, renamed, moved or narrowed, the
    partitioning changed), checked against the table the last demo left in `data`: the emulator's catalog
    starts empty each time, so this is where a changed job meets its table before a deploy."""
    try:
        previous = json.loads((data / DESCRIPTION).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    spec = Stack(load_template(project / TEMPLATE), parameter_overrides=overrides).parameters["Job"]
    if not previous.get("metadata_location") or previous.get("job") != spec:
        return None  # no table yet, or another job's
    sys.path.insert(0, str(project / "jobs"))  # where the JobLayer's modules are, as the functions see them
    try:
        allowed_changes(open_copy(Path(previous["metadata_location"])), table_of(load_job(spec)))
    except SchemaChangeRefused as refused:
        return f"{refused} (a deploy refuses it too; the demo's table is in {data}: remove it to start a new one)"
    finally:
        sys.path.remove(str(project / "jobs"))
    return None


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    console, project = console or Console(), project_dir()
    dataset = (
        dataset_from_dir(options.source)
        if options.source
        else make_dataset(options.objects, options.records, options.bad_ratio, options.seed)
    )
    if not dataset.objects:
        print(f"landfall demo: --source {options.source} holds no files", file=sys.stderr)  # as the parser's errors
        return 2
    overrides = _overrides(options)
    refusal = _refused(project / TEMPLATE, overrides) or table_refusal(project, overrides, local_data(options.data))
    if refusal is not None:
        print(f"landfall demo: {refusal}", file=sys.stderr)
        return 2
    new_logs = work_dir(project) / "logs" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    logs = None if options.verbose else (options.log_dir or new_logs)
    started = time.monotonic()
    with Emulator(template=project / TEMPLATE, parameter_overrides=overrides, log_dir=logs) as emulator:
        try:
            runs = _land_and_follow(emulator, dataset, options, console)
        except FunctionFailed as error:
            console.print(f"[red]✗ a function refused its work: {error}[/red]")
            console.print(f"its log: {logs}" if logs else "(its log is above)")
            return 1
        if runs is None:
            return 1
        return _finish(emulator, dataset, runs, options, console, (time.monotonic() - started, logs))


def _finish(
    emulator: Emulator,
    dataset: Dataset,
    runs: dict[str, DemoRun],
    options: DemoOptions,
    console: Console,
    how: tuple[float, Path | None],
) -> int:
    elapsed, logs = how
    s3 = emulator.client("s3")
    reports = {name: _report(s3, emulator.pipeline_bucket, name) for name in sorted(runs)}
    if options.out:
        _save(s3, emulator.pipeline_bucket, [r for r in reports.values() if r], options.out)
    result = _summarise(console, dataset, emulator, runs, reports, elapsed, options.source is None)
    if options.compact and not _compact(emulator, console):
        result = 1
    _query_the_table(emulator, local_data(options.data), console)
    _where_it_is(console, emulator, reports, options, logs)
    if options.keep > 0:
        _keep_serving(emulator, options.keep, console)
    return result


def _compact(emulator: Emulator, console: Console) -> bool:
    """The table's upkeep after the runs (`--compact`), as `landfall compact` starts it: its line."""
    upkeep_id = f"upkeep-demo-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    sfn = emulator.client("stepfunctions")
    machine = emulator.stack.outputs()["UpkeepStateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=upkeep_id, input="{}")["executionArn"]
    emulator.wait_for_execution(execution, timeout=600)
    report = _upkeep_report(emulator.client("s3"), emulator.pipeline_bucket, upkeep_id)
    console.print(f"\n[bold]The table's upkeep[/bold]\n{upkeep_line(upkeep_id, report)}", soft_wrap=True)
    return report is not None and report.status == "SUCCEEDED"


def _upkeep_report(s3: S3Client, bucket: str, upkeep_id: str) -> UpkeepReport | None:
    try:
        return UpkeepReport.model_validate_json(s3.get_object(Bucket=bucket, Key=report_key(upkeep_id))["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _land_and_follow(
    emulator: Emulator, dataset: Dataset, options: DemoOptions, console: Console
) -> dict[str, DemoRun] | None:
    """Land the objects, let the notifications start the runs, show them until they end (None: timed out)."""
    prefix = emulator.landing_prefix
    console.print(
        f"emulator on {emulator.endpoint_url}; landing {len(dataset.objects)} objects "
        f"in s3://{emulator.landing_bucket}/{prefix}"
    )
    s3 = emulator.client("s3")
    if options.existing_bucket:  # yours, made outside the stack, with the README's one-time step done
        s3.create_bucket(Bucket=options.existing_bucket)
        s3.put_bucket_notification_configuration(
            Bucket=options.existing_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        console.print(
            f"s3://{options.existing_bucket} is made outside the stack; its EventBridge notifications "
            "reach the ingest queue"
        )
    for obj in dataset.objects:
        s3.put_object(Bucket=emulator.landing_bucket, Key=prefix + obj.key.removeprefix("raw/"), Body=obj.body)
    emulator.wait_for_ingestion(len(dataset.objects), timeout=options.timeout)
    expected = emulator.started_runs()
    runs: dict[str, DemoRun] = {}
    try:
        with Live(_progress_table(runs), console=console, refresh_per_second=4) as live:

            def ended() -> bool:
                done = _poll_runs(emulator, runs, expected)
                live.update(_progress_table(runs))
                return done

            wait_for(ended, options.timeout, "the runs to end", interval=0.25)
    except EmulatorTimeout as error:
        console.print(f"[red]✗ {error}[/red]")
        return None
    console.print()
    return runs


# the demo's look at the table: the same SQL runs on Athena (`landfall query --stack`)
DEMO_QUERY = (
    "SELECT date_trunc('hour', ts) AS hour, type, count(*) AS events, round(sum(value), 2) AS \"value\" "
    "FROM events_unique GROUP BY 1, type ORDER BY events DESC, hour, type LIMIT 10"
)


def _query_the_table(emulator: Emulator, data: Path, console: Console) -> None:
    """Copy the run's table out of the emulator and query it with DuckDB, by the catalog's names."""
    job = emulator.stack.function_environment("ProcessorFunction")["LANDFALL_JOB"]
    table = table_of(load_job(job))
    location = table_metadata_location(emulator.client("glue"), emulator.stack.outputs()["DatabaseName"], table.name)
    files = export_local(emulator.client("s3"), emulator.pipeline_bucket, table, job, data, location)
    console.print(f"\nthe table {table.name} ({files} files) is copied to {data}; DuckDB says:")
    if table.name == "events":
        print_result(console, query_local(DEMO_QUERY, data), title=f"top type-hours in {table.unique_view}")


def _where_it_is(
    console: Console, emulator: Emulator, reports: dict[str, RunReport | None], options: DemoOptions, logs: Path | None
) -> None:
    """Everything a user looks for next, as it must be typed."""
    command, bucket = landfall_command(), emulator.pipeline_bucket
    lines = ["", "[bold]Where it is[/bold]"]
    for run_id, report in reports.items():
        lines.append(f"run {run_id}: {report.status if report else 'no report'}")
        lines.append(
            f"  report: s3://{bucket}/{report_prefix(run_id)}report.md"
            + (f", saved in {options.out / report_prefix(run_id)}" if options.out else "")
        )
        if report:
            lines.append(
                f"  curated: s3://{bucket}/{report.outputs.curated_prefix}  quarantine: "
                f"s3://{bucket}/{report.outputs.quarantine_prefix}"
            )
        if report and report.outputs.redrive_manifest_key:
            again = report.objects.failed - report.objects.failed_for_good + report.objects.pending
            lines.append(
                f"  {again:,} object{'' if again == 1 else 's'} to run again, with the emulator kept up "
                f"(--keep): {command} redrive {run_id} --local"
            )
        if report and report.objects.failed_for_good:
            lost = report.objects.failed_for_good
            lines.append(
                f"  {lost:,} object{'' if lost == 1 else 's'} a retry cannot fix: what to do is under "
                f"Failures in the report"
            )
    saved = {local_metadata_file(options.out / r.outputs.curated_prefix) for r in reports.values() if r and options.out}
    lines += [f"  Iceberg copy: {path} (open it with any Iceberg reader)" for path in sorted(saved) if path.is_file()]
    query = "SELECT count(*) FROM events_unique"  # noqa: S608 - a command to try, printed
    lines.append(f'  query the table: {command} query --local "{query}"')
    lines.append(f"  the functions' logs: {logs}" if logs else "  the functions' logs: above (--verbose)")
    if options.keep <= 0 and reports:
        example = next(iter(reports))
        lines.append(f'  with the emulator kept up (make demo ARGS="--keep 30"): {command} report {example} --local')
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


def _keep_serving(emulator: Emulator, minutes: float, console: Console) -> None:
    """Leave the emulator up for the `--local` commands; it stops by itself after `minutes`."""
    state = local_state_path()
    try:  # however it ends (a signal while it prints included), the state goes with it
        write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
        _say_what_to_try(emulator, minutes, console)
        deadline = time.monotonic() + minutes * 60
        # in short sleeps: a signal may reach any of the process's threads, and Python runs its handler
        # (Ctrl-C, SIGTERM) only when the main thread wakes
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    finally:
        state.unlink(missing_ok=True)


def _say_what_to_try(emulator: Emulator, minutes: float, console: Console) -> None:
    run_ids = sorted(e["name"] for e in emulator.executions())
    example, command = (run_ids[0] if run_ids else "RUN_ID"), landfall_command()
    credentials = f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={emulator.stack.region}"
    console.print(
        f"\nthe emulator stays up for {minutes:g} min at {emulator.endpoint_url} (Ctrl-C stops it). Try, from any "
        f"directory of this checkout:\n"
        f"  {command} status {example} --local\n"
        f"  {command} report {example} --local\n"
        f"  {command} redrive {example} --local --dry-run\n"
        f"  {command} backfill --local --dry-run\n"
        f"  {credentials} aws --endpoint-url {emulator.endpoint_url} s3 ls "
        f"s3://{emulator.landing_bucket}/{emulator.landing_prefix} --recursive",
        highlight=False,
        soft_wrap=True,
    )


def _report(s3: S3Client, bucket: str, run_id: str) -> RunReport | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=report_key(run_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return RunReport.model_validate_json(body)


def _save(s3: S3Client, bucket: str, reports: list[RunReport], out: Path) -> None:
    """Everything the reports name: their folders (report, objects, timeline), the curated table, the
    quarantine and the redrive manifests; the table's copy is then an Iceberg table of its own, naming
    local files (`iceberg_copy`)."""
    prefixes = sorted(
        {p for r in reports for p in (report_prefix(r.run_id), r.outputs.curated_prefix, r.outputs.quarantine_prefix)}
    )
    keys = [r.outputs.redrive_manifest_key for r in reports if r.outputs.redrive_manifest_key]
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
    for key in keys:
        target = out / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    committed = [r.table.metadata_location for r in reports if r.table and r.table.metadata_location]
    if (current := newest_metadata(out, bucket, committed)) is not None:
        localise(out, bucket, current)


@dataclass
class Verdicts:
    """What fails the demo: counts that do not add up, runs that failed, and warnings."""

    unaccounted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def closing(self) -> str | None:
        said = [
            f"{len(v)} {what}{'s' if len(v) > 1 else ''}"
            for v, what in (
                (self.unaccounted, "count that does not add up"),
                (self.failed, "failed run"),
                (self.warnings, "warning"),
            )
            if v
        ]
        return f"the demo fails: {', '.join(said)}" if said else None


def _verdicts(runs: dict[str, DemoRun], reports: dict[str, RunReport | None]) -> Verdicts:
    verdicts = Verdicts()
    for name, report in reports.items():
        if report is None:
            verdicts.failed.append(f"run {name} ended {runs[name].status} and wrote no report")
            continue
        verdicts.unaccounted += [f"{name}: {p}" for p in report.reconciliation.problems]
        if report.status == "FAILED":
            verdicts.failed.append(f"run {name} FAILED: {report.status_reason}")
        verdicts.warnings += [f"{name}: {w}" for w in report.warnings]
        verdicts.warnings += [f"{f.kind} failure: {f.url}: {f.error}" for f in report.failures[:5]]
        if len(report.failures) > 5:
            verdicts.warnings.append(f"… and {len(report.failures) - 5} more failures (see the report)")
    return verdicts


def _sums(landed: int, objects: ObjectCounts, dropped: dict[str, int]) -> str:
    reasons = ", ".join(f"{n:,} {reason}" for reason, n in sorted(dropped.items()))
    return (
        f"{landed:,} objects landed = {objects.processed:,} processed + {objects.failed:,} failed + "
        f"{objects.pending:,} pending + {sum(dropped.values()):,} dropped" + (f" ({reasons})" if reasons else "")
    )


def _print_quality(console: Console, reports: list[RunReport]) -> None:
    """The job's quality rules on each run, as `landfall quality` shows them (a breach warns, or fails, the run)."""
    records = [
        QualityRecord(run_id=r.run_id, ended_at=r.timing.ended_at, rules=r.quality.rules)
        for r in sorted(reports, key=lambda r: r.timing.ended_at if r.timing else datetime.min.replace(tzinfo=UTC))
        if r.quality is not None and r.timing is not None
    ]
    if records:
        console.print(trend_table(reports[0].job, records[::-1]))


def _summary_table(rows: list[tuple[str, int | str]]) -> Table:
    table = Table(title="Landfall demo")
    table.add_column("")
    table.add_column("value", justify="right")
    for label, value in rows:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    return table


def _summarise(
    console: Console,
    dataset: Dataset,
    emulator: Emulator,
    runs: dict[str, DemoRun],
    reports: dict[str, RunReport | None],
    elapsed: float,
    known_truth: bool,
) -> int:
    verdicts = _verdicts(runs, reports)
    total = totals(r for r in reports.values() if r)
    objects, records = total.objects, total.records
    _, dropped = emulator.ingested()
    landed = len(dataset.objects)
    if landed != objects.in_manifest + sum(dropped.values()):
        verdicts.unaccounted.append(
            f"{landed} objects landed but {objects.in_manifest} in manifests + {sum(dropped.values())} dropped"
        )
    if known_truth and records.read != dataset.records:
        verdicts.unaccounted.append(f"{dataset.records} records landed but {records.read} were read")
    if known_truth and records.rejected != dataset.bad:
        verdicts.unaccounted.append(f"{dataset.bad} bad lines landed but {records.rejected} were rejected")
    rows: list[tuple[str, int | str]] = [("runs", len(runs)), ("objects landed", landed)]
    rows += [(f"  dropped: {reason}", n) for reason, n in sorted(dropped.items())]
    console.print(_summary_table([*rows, *total.rows(), ("seconds", f"{elapsed:.1f}")]))
    _print_quality(console, [r for r in reports.values() if r])
    for warning in verdicts.warnings:
        console.print(f"[yellow]⚠ {warning}[/yellow]", highlight=False)
    for problem in verdicts.failed + verdicts.unaccounted:
        console.print(f"[red]✗ {problem}[/red]", highlight=False)
    if not verdicts.unaccounted:  # the counts add up, whatever else fails the demo
        sums = _sums(landed, objects, dropped)
        console.print(f"[green]✓ every object and every record is accounted for: {sums}[/green]", highlight=False)
    closing = verdicts.closing()
    if closing:
        console.print(f"[red]{closing}[/red]", highlight=False)
    return 1 if closing else 0
