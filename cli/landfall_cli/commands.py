"""The `landfall` commands, loaded when one runs (`main.py` parses and checks the options first)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from landfall.commit.objects import committed_objects
from landfall.core.observability import logger
from landfall.ingest.manifests import StartedRun
from landfall.jobs import load_job
from landfall.table.schema import table_of
from landfall_cli.aws_errors import setup_problem
from landfall_cli.backfill import Backfill, hour_prefixes, list_items
from landfall_cli.operate import (
    RunNotFound,
    find_report,
    follow,
    nothing_to_redrive,
    plan_rows,
    print_report,
    read_report,
    redrive,
    run_status,
    status_line,
)
from landfall_cli.options import TEMPLATE, DemoOptions, NotInProject, landfall_command, local_data, project_dir
from landfall_cli.quality import NoQualityRecords, trend, trend_table, write_chart
from landfall_cli.query import (
    QueryError,
    export_local,
    print_result,
    query_athena,
    query_local,
    table_metadata_location,
)
from landfall_cli.target import Target, TargetError, aws_target, local_target
from landfall_cli.upkeep import UpkeepError, start_upkeep, upkeep_line, wait_for_upkeep


class Stopped(Exception):
    """SIGTERM: unwound like Ctrl-C, so that every context manager stops what it started."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def run(args: argparse.Namespace) -> int:
    """Run the command; 2 for a target or project that cannot be found or an AWS setup that cannot reach it
    (one line that says what to set, not a traceback), 130 after Ctrl-C, 143 after SIGTERM."""
    console, errors = Console(), Console(stderr=True)  # stdout is the command's answer: a pipe reads it
    signal.signal(signal.SIGTERM, _stop)
    # the library's INFO lines are JSON for CloudWatch: the functions log them, a command says its own
    logging.getLogger(logger.name).setLevel(logging.WARNING)
    try:
        return _COMMANDS[args.command](args, console)
    except (TargetError, RunNotFound, NotInProject, NoQualityRecords, BotoCoreError, ClientError) as error:
        # botocore's errors at any call of the command: a region, credentials or a session is missing
        message = setup_problem(error) if isinstance(error, BotoCoreError | ClientError) else str(error)
        if message is None:
            raise  # not the setup's: a bug to see whole
        errors.print(message, style="red", markup=False, highlight=False, soft_wrap=True)  # one line, unwrapped
        return 2
    except (QueryError, UpkeepError) as error:
        errors.print(str(error), style="red", markup=False, highlight=False, soft_wrap=True)
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say, to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit, when Python flushes
        return 141  # as a shell reports a tool that SIGPIPE ended
    except KeyboardInterrupt:
        errors.print("\n[yellow]interrupted: every process this command started is stopped[/yellow]")
        return 130
    except Stopped:
        errors.print("\n[yellow]terminated: every process this command started is stopped[/yellow]")
        return 143


def _demo(args: argparse.Namespace, console: Console) -> int:
    from landfall_cli.demo import run_demo  # the emulator and moto (~250 MB): for the commands that run it only

    names = {f.name for f in fields(DemoOptions)}
    return run_demo(DemoOptions(**{k: v for k, v in vars(args).items() if k in names}), console)


def _target(args: argparse.Namespace) -> Target:
    return local_target() if args.local else aws_target(args.stack, args.region, args.profile)


def _refresh_local_copy(data: Path) -> None:
    """The emulator's table copied out again, when one runs (`make demo ARGS='--keep N'`)."""
    try:
        target = local_target()
    except TargetError:
        return  # the demo's copy as it is
    table = table_of(load_job(target.job))
    location = table_metadata_location(target.glue, target.outputs["DatabaseName"], table.name)
    export_local(target.s3, target.pipeline_bucket, table, target.job, data, location)


def _query(args: argparse.Namespace, console: Console) -> int:
    """Locally, the copy is refreshed from the emulator first when `make demo ARGS='--keep N'` runs it.
    With --format csv or json, stdout has the rows alone: progress and errors go to stderr."""
    from rich.text import Text

    from landfall_cli.query import write_result

    notes = Console(stderr=True)
    try:
        if args.local:
            _refresh_local_copy(local_data(args.data))
            result = query_local(args.sql, local_data(args.data), args.as_of)
        else:
            target = aws_target(args.stack, args.region, args.profile)
            missing = sorted({"DatabaseName", "WorkGroupName"} - target.outputs.keys())
            if missing:
                raise TargetError(f"{target.where} lacks the outputs {missing}: deploy this version of the template")
            database, workgroup = target.outputs["DatabaseName"], target.outputs["WorkGroupName"]
            with notes.status("Athena: queued…") as status:
                result = query_athena(
                    target.athena,
                    args.sql,
                    database,
                    workgroup,
                    waiting=lambda state: status.update(f"Athena: {state.lower()}…"),
                )
    except QueryError as error:
        notes.print(Text(str(error), style="red"))  # the engine's words, never read as markup
        return 1
    if args.format == "table":
        print_result(console, result)
    else:
        write_result(result, args.format)
    return 0


def _print_plan(console: Console, title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _backfill(args: argparse.Namespace, console: Console) -> int:
    target = _target(args)
    bucket = args.bucket or target.landing_bucket
    prefix = args.prefix if args.prefix is not None else target.settings.key_prefix
    prefixes = list(hour_prefixes(prefix, args.since, args.until or datetime.now(UTC))) if args.since else [prefix]
    settings = target.settings
    backfill = Backfill(target.starter(), settings.key_prefix, settings.key_suffix, args.objects_per_run, args.dry_run)
    if "DatabaseName" in target.outputs and "TableName" in target.outputs:  # a stack with a table
        names = target.outputs["DatabaseName"], target.outputs["TableName"]
        backfill.committed = committed_objects(target.glue, target.s3, *names)
    lists = [0]
    runs = backfill.run(list_items(target.s3, bucket, prefixes, lists))
    left_out = f"{backfill.skipped} objects skipped, {backfill.in_the_table} already in the table"
    if not runs:
        console.print(f"nothing to process under s3://{bucket}/{prefix} ({left_out})")
        return 0
    for number, planned in enumerate(runs, 1):
        title = f"run {number} of {len(runs)}" + (f": {planned.started.run_id}" if planned.started else " (dry run)")
        _print_plan(console, title, plan_rows(planned.plan, target, lists[0] if number == 1 else 0))
    if args.dry_run:
        console.print(
            f"dry run: nothing started ({backfill.skipped} objects skipped by prefix, suffix or size, "
            f"{backfill.in_the_table} already in the table)"
        )
    elif backfill.in_the_table:
        console.print(f"{backfill.in_the_table} objects left out: the table holds them already")
    for planned in runs:
        if planned.started:
            _print_started(console, planned.started, args)
    return 0


def _print_started(console: Console, started: StartedRun, args: argparse.Namespace) -> None:
    verb = "started" if started.new else "had started already (the same objects):"
    console.print(f"{verb} {started.run_id} → landfall status {started.run_id} {_where(args)}")


def _where(args: argparse.Namespace) -> str:
    return "--local" if args.local else f"--stack {args.stack}"


def _status(args: argparse.Namespace, console: Console) -> int:
    target = _target(args)
    if args.no_follow:
        status = run_status(target, args.run_id)
    else:
        status = follow(target, args.run_id, console, timeout=args.timeout)
    report = find_report(target, args.run_id) if status.ended else None
    console.print(status_line(args.run_id, status, report))
    if report is not None:
        console.print(f"the report: {landfall_command()} report {args.run_id} {_where(args)}")
    failed = status.status not in ("SUCCEEDED", "RUNNING") or (report is not None and report.status != "SUCCEEDED")
    return 1 if failed else 0


def _report(args: argparse.Namespace, console: Console) -> int:
    target = _target(args)
    report = print_report(target, args.run_id, console, as_json=args.json)
    if args.timeline:
        args.timeline.mkdir(parents=True, exist_ok=True)
        path = args.timeline / f"{args.run_id}-timeline.svg"
        path.write_bytes(read_report(target, args.run_id, "timeline.svg"))
        Console(stderr=True).print(f"the timeline: {path}", soft_wrap=True)  # stdout stays the report (--json)
    return 1 if report.status == "FAILED" else 0


def _invoke(args: argparse.Namespace, console: Console) -> int:
    """The response on stdout (JSON, as `sam local invoke` prints it); everything else on stderr."""
    from landfall_cli.invoke import BuildError  # the SAM CLI and the emulator: this command's alone

    try:
        return _invoke_built(args)
    except BuildError as error:
        console.print(f"[red]{error}[/red]")
        return 2


def _invoke_built(args: argparse.Namespace) -> int:
    from landfall_cli.invoke import build, invoke_built, stale_sources

    notes, project = Console(stderr=True, soft_wrap=True), project_dir()
    with notes.status("sam build…"):
        build_dir = build(project)
    stale = stale_sources(project, build_dir)
    if stale:
        notes.print(f"[yellow]{os.path.relpath(stale[0])} changed since `sam build`: the old code runs[/yellow]")
    with tempfile.TemporaryDirectory(prefix="landfall-invoke-") as work, notes.status(f"{args.function}…"):
        event = json.loads(args.event.read_text())
        invocation = invoke_built(args.function, event, Path(work), project / TEMPLATE, build_dir)
    for line in invocation.made:
        notes.print(f"[dim]{line}[/dim]")
    notes.print(invocation.logs.rstrip(), markup=False, highlight=False, soft_wrap=True)
    print(json.dumps(invocation.body, indent=2))
    if invocation.cloudformation is not None:
        notes.print("CloudFormation got:", json.dumps(invocation.cloudformation, indent=2), soft_wrap=True)
    return 1 if invocation.failed else 0


def _compact(args: argparse.Namespace, console: Console) -> int:
    target = _target(args)
    upkeep_id = start_upkeep(target, args.partition or [], housekeep=not args.no_housekeeping)
    report = wait_for_upkeep(target, upkeep_id, timeout=args.timeout)
    console.print(upkeep_line(upkeep_id, report), soft_wrap=True)
    return 0 if report is not None and report.status == "SUCCEEDED" else 1


def _quality(args: argparse.Namespace, console: Console) -> int:
    table, records = trend(_target(args), args.runs)
    if not records:
        raise NoQualityRecords(f"table {table} has no quality records")
    console.print(trend_table(table, records))
    if args.chart:
        Console(stderr=True).print(f"the chart: {write_chart(records, args.chart, table)}", soft_wrap=True)
    return 0


def _redrive(args: argparse.Namespace, console: Console) -> int:
    target = _target(args)
    plan, started = redrive(target, args.run_id, dry_run=args.dry_run)
    if not plan.objects:
        console.print(nothing_to_redrive(args.run_id, find_report(target, args.run_id)), soft_wrap=True)
        return 0
    _print_plan(console, f"redrive of {args.run_id}", plan_rows(plan, target))
    if started:
        _print_started(console, started, args)
    return 0


_COMMANDS = {
    "demo": _demo,
    "backfill": _backfill,
    "status": _status,
    "compact": _compact,
    "quality": _quality,
    "report": _report,
    "redrive": _redrive,
    "query": _query,
    "invoke": _invoke,
}
