"""The `landfall` command line: the demo, and operating a pipeline on AWS or on the local emulator."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from landfall_cli.options import (
    DemoOptions,
    Parser,
    folder,
    hour,
    json_file,
    number,
    whole,
)

FUNCTIONS = (
    "ManifestWriterFunction",
    "ProcessorFunction",
    "ReducerFunction",
    "CatalogFunction",
    "ConcurrencyCheckFunction",
    "UpkeepPlanFunction",
    "CompactorFunction",
    "UpkeepFinishFunction",
)


def _target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="the emulator `make demo ARGS='--keep N'` runs")
    where.add_argument("--stack", help="the deployed stack's name (sam deploy)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.add_argument("--profile", help="AWS profile")


def _parser() -> Parser:
    parser = Parser(prog="landfall", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _demo_options(
        commands.add_parser(
            "demo", help="run the whole pipeline on the embedded emulator", formatter_class=DefaultsShown
        )
    )
    _backfill_options(commands.add_parser("backfill", help="process objects already landed (a prefix or a time range)"))
    _query_options(
        commands.add_parser("query", help="SQL over the curated table: Athena (--stack) or DuckDB (--local)")
    )
    _run_commands(commands)
    _compact_options(commands.add_parser("compact", help="run the table's upkeep now: compaction, expiry, orphans"))
    quality = commands.add_parser("quality", help="the job's quality rules over the last runs: a table, and a chart")
    _target_options(quality)
    quality.add_argument("--runs", type=whole(1, 1000), default=10, help="how many of the last runs (default 10)")
    quality.add_argument("--chart", type=folder(False), metavar="DIR", help="write TABLE-quality.svg there")
    invoke = commands.add_parser("invoke", help="run one built function with an event, as Lambda runs it")
    invoke.add_argument("function", choices=FUNCTIONS)
    invoke.add_argument("-e", "--event", type=json_file, required=True, help="the event (events/<function>/*.json)")
    return parser


def _compact_options(compact: argparse.ArgumentParser) -> None:
    _target_options(compact)
    compact.add_argument(
        "--partition",
        action="append",
        metavar="PATH",
        help="only this partition, e.g. dt=2026-11-22/hour=13 (repeatable)",
    )
    compact.add_argument("--no-housekeeping", action="store_true", help="compact only: no snapshot expiry, no sweep")
    compact.add_argument(
        "--timeout", type=number(0, above=True), default=3600.0, help="stop waiting after this many seconds"
    )


def _query_options(query: argparse.ArgumentParser) -> None:
    _target_options(query)
    query.add_argument("sql", help='e.g. "SELECT type, count(*) FROM events_unique GROUP BY type"')
    query.add_argument("--data", type=folder(False), help="--local: the table's copy (default: .landfall/data)")
    query.add_argument(
        "--as-of", metavar="RUN_ID", help="--local: the table as that run's commit left it (its Iceberg snapshot)"
    )
    query.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default), csv (a header, then the rows) or json (JSON Lines)",
    )


def _run_commands(commands: Any) -> None:
    """status, report and redrive: each of one run."""
    for name, text in (
        ("status", "follow a run until it ends: objects and records done, failed, rejected"),
        ("report", "print a run's report (and write its timeline)"),
        ("redrive", "start a run of the objects a run failed or left pending"),
    ):
        command = commands.add_parser(name, help=text)
        _target_options(command)
        command.add_argument("run_id")
        if name == "status":
            command.add_argument("--no-follow", action="store_true", help="print the status once")
            command.add_argument("--timeout", type=number(0, above=True), help="stop following after this many seconds")
        if name == "report":
            command.add_argument("--json", action="store_true", help="the report.json model instead")
            command.add_argument(
                "--timeline", type=folder(False), metavar="DIR", help="write RUN_ID-timeline.svg there"
            )
        if name == "redrive":
            command.add_argument("--dry-run", action="store_true", help="print the plan and its cost; start nothing")


class DefaultsShown(argparse.HelpFormatter):
    """Each option's default beside its help, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.help and action.default not in (None, False, argparse.SUPPRESS):
            return f"{action.help} (default: %(default)s)"
        return action.help


def _demo_options(demo: argparse.ArgumentParser) -> None:
    defaults = DemoOptions()
    demo.add_argument("--objects", type=whole(1), default=defaults.objects, help="synthetic objects to land")
    demo.add_argument("--records", type=whole(1), default=defaults.records, help="records per synthetic object")
    demo.add_argument("--bad-ratio", type=number(0, 1), default=defaults.bad_ratio, help="share of bad lines, 0-1")
    demo.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="objects per batch (MaxItemsPerBatch)"
    )
    demo.add_argument("--concurrency", type=int, default=defaults.concurrency, help="the map's MaxConcurrency")
    demo.add_argument(
        "--tolerated-failure-percentage",
        type=float,
        default=defaults.tolerated_failure_percentage,
        help="share of objects that may fail before a run fails",
    )
    demo.add_argument(
        "--max-rejected-percentage",
        type=number(0, 100),
        default=defaults.max_rejected_percentage,
        help="flag (and fail) a run that rejects more of its lines",
    )
    demo.add_argument("--seed", type=int, default=defaults.seed, help="of the synthetic data")
    demo.add_argument("--source", type=folder(True), help="land the files of this folder instead of synthetic ones")
    demo.add_argument(
        "--existing-bucket", metavar="NAME", help="land in a bucket made outside the stack (ExistingLandingBucket)"
    )
    demo.add_argument(
        "--landing-prefix",
        default=defaults.landing_prefix,
        metavar="PREFIX",
        help="the key prefix objects land under (LandingPrefix)",
    )
    _demo_output_options(demo, defaults)


def _demo_output_options(demo: argparse.ArgumentParser, defaults: DemoOptions) -> None:
    """Where the demo's outputs go, and how long it waits and stays."""
    demo.add_argument("--out", type=folder(False), help="save everything the reports name here")
    demo.add_argument("--data", type=folder(False), help="copy the table here for queries (default: .landfall/data)")
    demo.add_argument(
        "--timeout", type=number(0, above=True), default=defaults.timeout, help="seconds before giving up"
    )
    demo.add_argument(
        "--logs",
        type=folder(False),
        dest="log_dir",
        help="the functions' logs (default: a new folder under .landfall/logs)",
    )
    demo.add_argument("--verbose", action="store_true", help="stream the functions' logs to the terminal")
    demo.add_argument(
        "--keep",
        type=number(0),
        default=0,
        metavar="MINUTES",
        help="keep the emulator running this long afterwards, for the --local commands (Ctrl-C stops it)",
    )
    demo.add_argument(
        "--compact", action="store_true", help="after the runs, run the table's upkeep: their small files compacted"
    )


def _backfill_options(backfill: argparse.ArgumentParser) -> None:
    _target_options(backfill)
    backfill.add_argument("--bucket", help="default: the landing bucket")
    backfill.add_argument("--prefix", help="list this prefix (default: the pipeline's key prefix, e.g. raw/)")
    backfill.add_argument("--since", type=hour, help="first Firehose hour, UTC (2026-11-22T13)")
    backfill.add_argument("--until", type=hour, help="end hour, UTC, exclusive (default: now)")
    backfill.add_argument("--objects-per-run", type=whole(1), default=100_000, help="split larger backfills into runs")
    backfill.add_argument("--dry-run", action="store_true", help="print the plan and its cost; start nothing")


def _checked(parser: Parser, args: argparse.Namespace) -> argparse.Namespace:
    """What one option cannot say alone."""
    if args.command == "backfill" and args.until and not args.since:
        parser.error("backfill: --until needs --since")
    if args.command == "backfill" and args.since and args.until and args.since >= args.until:
        parser.error(f"backfill: --since {args.since:%Y-%m-%dT%H} is not before --until {args.until:%Y-%m-%dT%H}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        parser = _parser()
        args = _checked(parser, parser.parse_args(argv))
        from landfall_cli import commands  # the command's modules load only when it runs

        status = commands.run(args)
    except KeyboardInterrupt:  # Ctrl-C before the command began (it says its own): nothing to stop
        status = 130
    return _ended(status)


def _ended(status: int) -> int:
    """After Ctrl-C or SIGTERM, in the `landfall` program: the command has stopped what it started, and no
    thread it leaves waiting may keep the process alive (the interpreter would wait for it at exit)."""
    if status not in (130, 143) or getattr(sys.modules.get("__main__"), "main", None) is not main:
        return status  # a command that ended, or main() called by another program (a test's): never end that
    import multiprocessing
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C changes nothing now
    deadline = time.monotonic() + 1  # the command's cleanup is over: a thread still waiting waits for nothing
    for thread in [t for t in threading.enumerate() if not t.daemon and t is not threading.current_thread()]:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():  # the last resort: a wait no one ends
            for child in multiprocessing.active_children():
                child.kill()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
