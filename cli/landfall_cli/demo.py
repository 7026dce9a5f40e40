"""`landfall demo`: the whole pipeline on the embedded emulator, from landing to the run report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from landfall.jobs import load_job
from landfall.layout import CURATED_PREFIX, report_key, report_prefix
from landfall.models import RunReport
from landfall.report import count_rows, totals
from landfall.schema import table_of
from landfall_cli.local.emulator import Emulator, EmulatorTimeout, wait_for
from landfall_cli.local.template import ParameterError, Stack, load_template
from landfall_cli.operate import MapProgress
from landfall_cli.query import LOCAL_DATA, export_local, print_result, query_local
from landfall_cli.synthetic import Dataset, LandedObject, make_dataset
from landfall_cli.target import local_state_path, write_local_state


@dataclass
class DemoOptions:
    objects: int = 40
    records: int = 2000
    bad_ratio: float = 0.01
    batch_size: int = 4
    concurrency: int = 8
    tolerated_failure_percentage: float = 5.0
    seed: int = 7
    source: Path | None = None
    out: Path | None = None
    timeout: float = 600.0
    log_dir: Path | None = None
    keep: float = 0.0  # minutes the emulator stays up afterwards, for the --local commands
    data: Path = LOCAL_DATA  # where the table is copied for `landfall query --local`


def dataset_from_dir(source: Path) -> Dataset:
    """The user's own files (e.g. Firehose output they downloaded), landed under raw/ as they are."""
    dataset = Dataset()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        key = relative if relative.startswith("raw/") else f"raw/{relative}"
        dataset.objects.append(LandedObject(key=key, body=path.read_bytes(), records=-1, bad=-1))
    return dataset


@dataclass
class DemoRun:
    """One execution the demo follows: its status and its map run's batches."""

    status: str = "RUNNING"
    batches: MapProgress = field(default_factory=MapProgress)


def _progress_table(runs: dict[str, DemoRun]) -> Table:
    table = Table(title="Map runs: batches of objects", expand=False)
    for column in ("run", "status", "batches", "succeeded", "failed", "running", "pending"):
        table.add_column(column, justify="right" if column not in ("run", "status") else "left")
    for name, run in sorted(runs.items()):
        b = run.batches
        table.add_row(name[:40], run.status, *map(str, (b.total, b.succeeded, b.failed, b.running, b.pending)))
    return table


def _poll_runs(emulator: Emulator, runs: dict[str, DemoRun]) -> bool:
    """Refresh each execution's status and map-run progress; True when all have ended."""
    sfn = emulator.client("stepfunctions")
    for execution in emulator.executions():
        run = runs.setdefault(execution["name"], DemoRun())
        run.status = execution["status"]
        run.batches = MapProgress.of(sfn, execution["executionArn"])
    return bool(runs) and all(run.status != "RUNNING" for run in runs.values())


def _overrides(options: DemoOptions) -> dict[str, str]:
    return {
        "IngestBatchSize": "10000",
        "IngestBatchingWindowSeconds": "2",
        "MaxItemsPerBatch": str(options.batch_size),
        "MaxConcurrency": str(options.concurrency),
        "ToleratedFailurePercentage": str(options.tolerated_failure_percentage),
    }


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    console = console or Console()
    dataset = dataset_from_dir(options.source) if options.source else make_dataset(
        options.objects, options.records, options.bad_ratio, options.seed
    )  # fmt: skip
    if not dataset.objects:
        console.print(f"[red]no files found in {options.source}[/red]")
        return 2
    overrides = _overrides(options)
    try:  # the template's bounds, checked before anything starts, as CloudFormation checks them
        Stack(load_template(), parameter_overrides=overrides)
    except ParameterError as error:
        console.print(f"[red]refused: {error}[/red]")
        return 2
    started = time.monotonic()
    with Emulator(parameter_overrides=overrides, log_dir=options.log_dir) as emulator:
        runs = _land_and_follow(emulator, dataset, options, console)
        if runs is None:
            return 1
        s3 = emulator.client("s3")
        reports = {name: _report(s3, emulator.pipeline_bucket, name) for name in sorted(runs)}
        if options.out:
            _save(s3, emulator.pipeline_bucket, [r for r in reports.values() if r], options.out)
            console.print(f"report, curated output and quarantine saved to {options.out}")
        result = _summarise(console, dataset, runs, reports, time.monotonic() - started, options.source is None)
        _query_the_table(emulator, options.data, console)
        if options.keep > 0:
            _keep_serving(emulator, options.keep, sorted(runs), console)
    return result


def _land_and_follow(
    emulator: Emulator, dataset: Dataset, options: DemoOptions, console: Console
) -> dict[str, DemoRun] | None:
    """Land the objects, let the notifications start the runs, show them until they end (None: timed out)."""
    console.print(
        f"emulator on {emulator.endpoint_url}; landing {len(dataset.objects)} objects "
        f"in s3://{emulator.landing_bucket}/raw/"
    )
    s3 = emulator.client("s3")
    for obj in dataset.objects:
        s3.put_object(Bucket=emulator.landing_bucket, Key=obj.key, Body=obj.body)
    emulator.wait_for_ingestion(len(dataset.objects), timeout=options.timeout)
    runs: dict[str, DemoRun] = {}
    try:
        with Live(_progress_table(runs), console=console, refresh_per_second=4) as live:

            def ended() -> bool:
                done = _poll_runs(emulator, runs)
                live.update(_progress_table(runs))
                return done

            wait_for(ended, options.timeout, "the runs to end", interval=0.25)
    except EmulatorTimeout as error:
        console.print(f"[red]{error}[/red]")
        return None
    console.print()
    return runs


# the demo's look at the table: the same SQL runs on Athena (`landfall query --stack`)
DEMO_QUERY = (
    'SELECT dt, hour, type, count(*) AS events, round(sum(value), 2) AS "value" FROM events_unique '
    "GROUP BY dt, hour, type ORDER BY events DESC, dt, hour, type LIMIT 10"
)


def _query_the_table(emulator: Emulator, data: Path, console: Console) -> None:
    """Copy the run's table out of the emulator and query it with DuckDB, by the catalog's names."""
    job = emulator.stack.function_environment("ProcessorFunction")["LANDFALL_JOB"]
    table = table_of(load_job(job))
    files = export_local(emulator.client("s3"), emulator.pipeline_bucket, table, job, data)
    console.print(f"\nthe table {table.name} ({files} files) is copied to {data}; DuckDB says:")
    if table.name == "events":
        print_result(console, query_local(DEMO_QUERY, data), title=f"top type-hours in {table.unique_view}")
    example = f"SELECT count(*) FROM {table.unique_view or table.name}"  # noqa: S608 - a hint printed, not run
    console.print(f'query it yourself: landfall query --local "{example}"')


def _keep_serving(emulator: Emulator, minutes: float, run_ids: list[str], console: Console) -> None:
    """Leave the emulator up for the `--local` commands; it stops by itself after `minutes`."""
    state = local_state_path()
    write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
    example = run_ids[0] if run_ids else "RUN_ID"
    query = "SELECT type, count(*) FROM events_unique GROUP BY type"  # noqa: S608 - a command to try, printed
    console.print(
        f"\nthe emulator stays up for {minutes:g} min at {emulator.endpoint_url} (Ctrl-C stops it). Try:\n"
        f"  landfall report {example} --local\n"
        f"  landfall redrive {example} --local --dry-run\n"
        "  landfall backfill --local --dry-run\n"
        f'  landfall query --local "{query}"\n'
        f"  aws --endpoint-url {emulator.endpoint_url} s3 ls s3://{emulator.landing_bucket}/raw/ --recursive"
    )
    try:
        time.sleep(minutes * 60)
    except KeyboardInterrupt:
        pass
    finally:
        state.unlink(missing_ok=True)


def _report(s3, bucket: str, run_id: str) -> RunReport | None:
    try:
        return RunReport.model_validate_json(s3.get_object(Bucket=bucket, Key=report_key(run_id))["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _save(s3, bucket: str, reports: list[RunReport], out: Path) -> None:
    prefixes = [CURATED_PREFIX]
    for report in reports:
        prefixes += [report_prefix(report.run_id), report.outputs.quarantine_prefix]
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                target = out / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())


def _problems(runs: dict[str, DemoRun], reports: dict[str, RunReport | None], console: Console) -> list[str]:
    problems: list[str] = []
    for name, report in reports.items():
        if report is None:
            problems.append(f"run {name} wrote no report")
            continue
        problems += [f"{name}: {p}" for p in report.reconciliation.problems]
        if runs[name].status != "SUCCEEDED":
            problems.append(f"run {name} ended {runs[name].status}: {report.status_reason}")
        for failure in report.failures[:5]:
            console.print(f"[yellow]! {failure.kind} failure: {failure.url}: {failure.error}[/yellow]")
        if len(report.failures) > 5:
            console.print(f"[yellow]! … and {len(report.failures) - 5} more (see the report)[/yellow]")
    return problems


def _summarise(
    console: Console,
    dataset: Dataset,
    runs: dict[str, DemoRun],
    reports: dict[str, RunReport | None],
    elapsed: float,
    known_truth: bool,
) -> int:
    problems = _problems(runs, reports, console)
    objects, records = totals(r for r in reports.values() if r)
    if known_truth:
        if records.read != dataset.records:
            problems.append(f"{dataset.records} records landed but {records.read} were read")
        if records.rejected != dataset.bad:
            problems.append(f"{dataset.bad} bad lines landed but {records.rejected} were rejected")
    table = Table(title="Landfall demo")
    table.add_column("")
    table.add_column("value", justify="right")
    rows = [("runs", len(runs)), ("objects landed", len(dataset.objects)), *count_rows(objects, records)]
    for label, value in [*rows, ("seconds", f"{elapsed:.1f}")]:
        table.add_row(label, str(value))
    console.print(table)
    for problem in problems:
        console.print(f"[red]✗ {problem}[/red]")
    if problems:
        return 1
    console.print("[green]✓ every object and every record is accounted for[/green]")
    return 0
