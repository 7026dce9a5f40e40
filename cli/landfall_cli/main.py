"""The `landfall` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landfall_cli.demo import DemoOptions, run_demo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="landfall", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline on the embedded emulator")
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
    demo.add_argument("--timeout", type=float, default=defaults.timeout, help="seconds before giving up")
    demo.add_argument("--logs", type=Path, dest="log_dir", help="write each function's log to this folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        options = DemoOptions(**{k: v for k, v in vars(args).items() if k != "command"})
        return run_demo(options)
    return 2


if __name__ == "__main__":
    sys.exit(main())
