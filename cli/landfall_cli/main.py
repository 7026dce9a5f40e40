"""The `landfall` command line: the demo, and operating a pipeline on AWS or on the local emulator."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from landfall.jobs import load_job
from landfall.manifests import StartedRun
from landfall.schema import table_of
from landfall_cli.backfill import Backfill, hour_prefixes, list_items
from landfall_cli.demo import DemoOptions, run_demo
from landfall_cli.operate import RunNotFound, follow, plan_rows, print_report, redrive, run_status
from landfall_cli.query import LOCAL_DATA, QueryError, export_local, print_result, query_athena, query_local
from landfall_cli.target import Target, TargetError, aws_target, local_target


def _hour(text: str) -> datetime:
    """An hour in UTC: 2026-11-22T13, 2026-11-22 or a full ISO timestamp."""
    moment = datetime.fromisoformat(text if len(text) != 13 else f"{text}:00")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="the emulator `make demo ARGS='--keep N'` runs")
    where.add_argument("--stack", help="the deployed stack's name (sam deploy)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.add_argument("--profile", help="AWS profile")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="landfall", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _demo_options(commands.add_parser("demo", help="run the whole pipeline on the embedded emulator"))
    _backfill_options(commands.add_parser("backfill", help="process objects already landed (a prefix or a time range)"))
    query = commands.add_parser("query", help="SQL over the curated table: Athena (--stack) or DuckDB (--local)")
    _target_options(query)
    query.add_argument("sql", help='e.g. "SELECT type, count(*) FROM events_unique GROUP BY type"')
    query.add_argument(
        "--data", type=Path, default=LOCAL_DATA, help=f"--local: the table's copy (default {LOCAL_DATA})"
    )
    for name, text in (
        ("status", "follow a run with a progress bar until it ends"),
        ("report", "print a run's report"),
        ("redrive", "start a run of the objects a run failed or left pending"),
    ):
        command = commands.add_parser(name, help=text)
        _target_options(command)
        command.add_argument("run_id")
        if name == "status":
            command.add_argument("--no-follow", action="store_true", help="print the status once")
            command.add_argument("--timeout", type=float, help="stop following after this many seconds")
        if name == "report":
            command.add_argument("--json", action="store_true", help="the report.json model instead")
        if name == "redrive":
            command.add_argument("--dry-run", action="store_true", help="print the plan and its cost; start nothing")
    return parser


def _demo_options(demo: argparse.ArgumentParser) -> None:
    defaults = DemoOptions()
    demo.add_argument("--objects", type=int, default=defaults.objects, help="synthetic objects to land")
    demo.add_argument("--records", type=int, default=defaults.records, help="records per synthetic object")
    demo.add_argument("--bad-ratio", type=float, default=defaults.bad_ratio, help="share of bad lines")
    demo.add_argument("--batch-size", type=int, default=defaults.batch_size, help="objects per processor batch")
    demo.add_argument("--concurrency", type=int, default=defaults.concurrency, help="map MaxConcurrency")
    demo.add_argument("--tolerated-failure-percentage", type=float, default=defaults.tolerated_failure_percentage)
    demo.add_argument("--seed", type=int, default=defaults.seed)
    demo.add_argument("--source", type=Path, help="land the files of this folder instead of synthetic ones")
    demo.add_argument("--out", type=Path, help="save the report, curated output and quarantine here")
    demo.add_argument("--data", type=Path, default=defaults.data, help="copy the table here for landfall query --local")
    demo.add_argument("--timeout", type=float, default=defaults.timeout, help="seconds before giving up")
    demo.add_argument("--logs", type=Path, dest="log_dir", help="write each function's log to this folder")
    demo.add_argument(
        "--keep", type=float, default=0, metavar="MINUTES",
        help="keep the emulator running this long afterwards, for the --local commands (Ctrl-C stops it)",
    )  # fmt: skip


def _backfill_options(backfill: argparse.ArgumentParser) -> None:
    _target_options(backfill)
    backfill.add_argument("--bucket", help="default: the landing bucket")
    backfill.add_argument("--prefix", help="list this prefix (default: the pipeline's key prefix, e.g. raw/)")
    backfill.add_argument("--since", type=_hour, help="first Firehose hour, UTC (2026-11-22T13)")
    backfill.add_argument("--until", type=_hour, help="end hour, UTC, exclusive (default: now)")
    backfill.add_argument("--objects-per-run", type=int, default=100_000, help="split larger backfills into runs")
    backfill.add_argument("--dry-run", action="store_true", help="print the plan and its cost; start nothing")


def _query(args: argparse.Namespace, console: Console) -> int:
    """Locally, the copy is refreshed from the emulator first when `make demo ARGS='--keep N'` runs it."""
    if args.local:
        try:
            target = local_target()
        except TargetError:
            target = None  # the demo's copy as it is
        if target is not None:
            table = table_of(load_job(target.job))
            export_local(target.s3, target.pipeline_bucket, table, target.job, args.data)
        result = query_local(args.sql, args.data)
    else:
        target = aws_target(args.stack, args.region, args.profile)
        missing = sorted({"DatabaseName", "WorkGroupName"} - target.outputs.keys())
        if missing:
            raise TargetError(f"{target.where} lacks the outputs {missing}: deploy this version of the template")
        database, workgroup = target.outputs["DatabaseName"], target.outputs["WorkGroupName"]
        with console.status("Athena: queued…") as status:
            result = query_athena(target.athena, args.sql, database, workgroup,
                                  waiting=lambda state: status.update(f"Athena: {state.lower()}…"))  # fmt: skip
    print_result(console, result)
    return 0


def _target(args: argparse.Namespace) -> Target:
    return local_target() if args.local else aws_target(args.stack, args.region, args.profile)


def _print_plan(console: Console, title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _backfill(args: argparse.Namespace, target: Target, console: Console) -> int:
    bucket = args.bucket or target.landing_bucket
    prefix = args.prefix if args.prefix is not None else target.settings.key_prefix
    prefixes = list(hour_prefixes(prefix, args.since, args.until or datetime.now(UTC))) if args.since else [prefix]
    settings = target.settings
    backfill = Backfill(target.starter(), settings.key_prefix, settings.key_suffix, args.objects_per_run, args.dry_run)
    lists = [0]
    runs = backfill.run(list_items(target.s3, bucket, prefixes, lists))
    if not runs:
        console.print(f"nothing to process under s3://{bucket}/{prefix} ({backfill.skipped} objects skipped)")
        return 0
    for number, planned in enumerate(runs, 1):
        title = f"run {number} of {len(runs)}" + (f": {planned.started.run_id}" if planned.started else " (dry run)")
        _print_plan(console, title, plan_rows(planned.plan, target, lists[0] if number == 1 else 0))
    if args.dry_run:
        console.print(f"dry run: nothing started ({backfill.skipped} objects skipped by prefix, suffix or size)")
    for planned in runs:
        if planned.started:
            _print_started(console, planned.started, args)
    return 0


def _print_started(console: Console, started: StartedRun, args: argparse.Namespace) -> None:
    verb = "started" if started.new else "had started already (the same objects):"
    console.print(f"{verb} {started.run_id} → landfall status {started.run_id} {_where(args)}")


def _where(args: argparse.Namespace) -> str:
    return "--local" if args.local else f"--stack {args.stack}"


def _status(args: argparse.Namespace, target: Target, console: Console) -> int:
    if args.no_follow:
        status = run_status(target, args.run_id)
    else:
        status = follow(target, args.run_id, console, timeout=args.timeout)
    batches = status.batches
    console.print(
        f"{args.run_id}: {status.status}, {batches.done}/{batches.total} batches of {status.objects} objects"
        + (f", {batches.failed} batches failed" if batches.failed else "")
        + (f" — {status.error}" if status.error else "")
    )
    return 0 if status.status in ("SUCCEEDED", "RUNNING") else 1


def _report(args: argparse.Namespace, target: Target, console: Console) -> int:
    report = print_report(target, args.run_id, console, as_json=args.json)
    return 1 if report.status == "FAILED" else 0


def _redrive(args: argparse.Namespace, target: Target, console: Console) -> int:
    plan, started = redrive(target, args.run_id, dry_run=args.dry_run)
    if not plan.objects:
        console.print(f"{args.run_id} has nothing to redrive")
        return 0
    _print_plan(console, f"redrive of {args.run_id}", plan_rows(plan, target))
    if started:
        _print_started(console, started, args)
    return 0


_COMMANDS = {"backfill": _backfill, "status": _status, "report": _report, "redrive": _redrive}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        options = DemoOptions(**{k: v for k, v in vars(args).items() if k != "command"})
        return run_demo(options)
    console = Console()
    try:
        if args.command == "query":
            return _query(args, console)
        return _COMMANDS[args.command](args, _target(args), console)
    except (TargetError, RunNotFound) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    except QueryError as error:
        console.print(f"[red]{error}[/red]")
        return 1


if __name__ == "__main__":
    sys.exit(main())
