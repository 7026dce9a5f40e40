"""`landfall demo`: the whole pipeline on the embedded emulator, from landing to the run report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from landfall_cli.local.emulator import Emulator, EmulatorTimeout, wait_for
from landfall_cli.local.template import ParameterError, Stack, load_template
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


def dataset_from_dir(source: Path) -> Dataset:
    """The user's own files (e.g. Firehose output they downloaded), landed under raw/ as they are."""
    dataset = Dataset()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        key = relative if relative.startswith("raw/") else f"raw/{relative}"
        dataset.objects.append(LandedObject(key=key, body=path.read_bytes(), records=-1, bad=-1))
    return dataset


def _progress_table(runs: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Map runs: batches of objects", expand=False)
    for column in ("run", "status", "batches", "succeeded", "failed", "running", "pending"):
        table.add_column(column, justify="right" if column not in ("run", "status") else "left")
    for name, state in sorted(runs.items()):
        counts = state.get("items", {})
        table.add_row(
            name[:40],
            state.get("status", "RUNNING"),
            str(counts.get("total", 0)),
            str(counts.get("succeeded", 0)),
            str(counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0)),
            str(counts.get("running", 0)),
            str(
                max(
                    0,
                    counts.get("total", 0)
                    - counts.get("succeeded", 0)
                    - counts.get("failed", 0)
                    - counts.get("running", 0)
                    - counts.get("timedOut", 0)
                    - counts.get("aborted", 0),
                )
            ),
        )
    return table


def _poll_runs(emulator: Emulator, runs: dict[str, dict[str, Any]]) -> bool:
    """Refresh each execution's status and map-run item counts; True when all have ended."""
    sfn = emulator.client("stepfunctions")
    for execution in emulator.executions():
        state = runs.setdefault(execution["name"], {"arn": execution["executionArn"]})
        state["status"] = execution["status"]
        map_runs = sfn.list_map_runs(executionArn=execution["executionArn"]).get("mapRuns", [])
        if map_runs:
            state["items"] = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])["itemCounts"]
    return bool(runs) and all(state["status"] != "RUNNING" for state in runs.values())


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    console = console or Console()
    dataset = (
        dataset_from_dir(options.source)
        if options.source
        else make_dataset(options.objects, options.records, options.bad_ratio, options.seed)
    )
    if not dataset.objects:
        console.print(f"[red]no files found in {options.source}[/red]")
        return 2
    overrides = {
        "IngestBatchSize": "10000",
        "IngestBatchingWindowSeconds": "2",
        "MaxItemsPerBatch": str(options.batch_size),
        "MaxConcurrency": str(options.concurrency),
        "ToleratedFailurePercentage": str(options.tolerated_failure_percentage),
    }
    try:  # the template's bounds, checked before anything starts, as CloudFormation checks them
        Stack(load_template(), parameter_overrides=overrides)
    except ParameterError as error:
        console.print(f"[red]refused: {error}[/red]")
        return 2
    started = time.monotonic()
    with Emulator(parameter_overrides=overrides, log_dir=options.log_dir) as emulator:
        console.print(
            f"emulator on {emulator.endpoint_url}; landing {len(dataset.objects)} objects "
            f"in s3://{emulator.landing_bucket}/raw/"
        )
        s3 = emulator.client("s3")
        for obj in dataset.objects:
            s3.put_object(Bucket=emulator.landing_bucket, Key=obj.key, Body=obj.body)
        emulator.wait_for_ingestion(len(dataset.objects), timeout=options.timeout)

        runs: dict[str, dict[str, Any]] = {}
        try:
            with Live(_progress_table(runs), console=console, refresh_per_second=4) as live:

                def ended() -> bool:
                    done = _poll_runs(emulator, runs)
                    live.update(_progress_table(runs))
                    return done

                wait_for(ended, options.timeout, "the runs to end", interval=0.25)
            console.print()
        except EmulatorTimeout as error:
            console.print(f"[red]{error}[/red]")
            return 1

        reports = [_report(s3, emulator.pipeline_bucket, name) for name in sorted(runs)]
        if options.out:
            _save(s3, emulator.pipeline_bucket, reports, options.out)
            console.print(f"report, curated output and quarantine saved to {options.out}")
        result = _summarise(console, dataset, runs, reports, time.monotonic() - started, options.source is None)
        if options.keep > 0:
            _keep_serving(emulator, options.keep, sorted(runs), console)
    return result


def _keep_serving(emulator: Emulator, minutes: float, run_ids: list[str], console: Console) -> None:
    """Leave the emulator up for the `--local` commands; it stops by itself after `minutes`."""
    state = local_state_path()
    write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
    example = run_ids[0] if run_ids else "RUN_ID"
    console.print(
        f"\nthe emulator stays up for {minutes:g} min at {emulator.endpoint_url} (Ctrl-C stops it). Try:\n"
        f"  landfall report {example} --local\n"
        f"  landfall redrive {example} --local --dry-run\n"
        "  landfall backfill --local --dry-run\n"
        f"  aws --endpoint-url {emulator.endpoint_url} s3 ls s3://{emulator.landing_bucket}/raw/ --recursive"
    )
    try:
        time.sleep(minutes * 60)
    except KeyboardInterrupt:
        pass
    finally:
        state.unlink(missing_ok=True)


def _report(s3, bucket: str, run_id: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=f"reports/{run_id}/report.json")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _save(s3, bucket: str, reports: list[dict[str, Any] | None], out: Path) -> None:
    prefixes = ["curated/"]
    for report in reports:
        if report:
            prefixes += [f"reports/{report['run_id']}/", report["outputs"]["quarantine_prefix"]]
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                target = out / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())


def _summarise(
    console: Console,
    dataset: Dataset,
    runs: dict[str, dict[str, Any]],
    reports: list[dict[str, Any] | None],
    elapsed: float,
    known_truth: bool,
) -> int:
    table = Table(title="Landfall demo")
    table.add_column("")
    table.add_column("value", justify="right")
    totals = {"processed": 0, "failed": 0, "pending": 0, "read": 0, "valid": 0, "rejected": 0}
    problems: list[str] = []
    for name, report in zip(sorted(runs), reports, strict=True):
        if report is None:
            problems.append(f"run {name} wrote no report")
            continue
        for key in ("processed", "failed", "pending"):
            totals[key] += report["objects"][key]
        for key in ("read", "valid", "rejected"):
            totals[key] += report["records"][key]
        problems += [f"{name}: {p}" for p in report["reconciliation"]["problems"]]
        if runs[name]["status"] != "SUCCEEDED":
            problems.append(f"run {name} ended {runs[name]['status']}: {report['status_reason']}")
        for failure in report["failures"][:5]:
            console.print(
                f"[yellow]! {failure['kind']} failure: s3://{failure['bucket']}/{failure['key']}: "
                f"{failure['error']}[/yellow]"
            )
        if len(report["failures"]) > 5:
            console.print(f"[yellow]! … and {len(report['failures']) - 5} more (see the report)[/yellow]")
    if known_truth:
        if totals["read"] != dataset.records:
            problems.append(f"{dataset.records} records landed but {totals['read']} were read")
        if totals["rejected"] != dataset.bad:
            problems.append(f"{dataset.bad} bad lines landed but {totals['rejected']} were rejected")
    rows = [
        ("runs", len(runs)),
        ("objects in", len(dataset.objects)),
        ("objects processed", totals["processed"]),
        ("objects failed", totals["failed"]),
        ("objects pending", totals["pending"]),
        ("records in", dataset.records if known_truth else totals["read"]),
        ("records valid", totals["valid"]),
        ("records rejected (quarantined)", totals["rejected"]),
        ("seconds", f"{elapsed:.1f}"),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    if problems:
        for problem in problems:
            console.print(f"[red]✗ {problem}[/red]")
        return 1
    console.print("[green]✓ every object and every record is accounted for[/green]")
    return 0
