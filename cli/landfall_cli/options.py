"""The `landfall` command line's options, each checked before anything starts.

Only the standard library is imported here, so `landfall --help` answers at once; a command's own
modules load when it runs. A value out of bounds stops the command with one line that names the
option and its bounds, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

TEMPLATE = "template.yaml"  # the project's: where it is, is where the project is


class NotInProject(RuntimeError):
    """No template.yaml in the current folder or any folder above it."""


def project_dir() -> Path:
    """The project a command works in: the nearest folder holding template.yaml, from the current one up,
    so that an installed `landfall` works in any checkout, from any of its folders."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / TEMPLATE).is_file():
            return folder
    raise NotInProject(f"no {TEMPLATE} in {here} or any folder above it: run this in a Landfall project's folder")


def work_dir(project: Path | None = None) -> Path:
    """The project's `.landfall`: the local emulator's state, the table's copy, the demo's logs."""
    return (project or project_dir()) / ".landfall"


def local_data(data: Path | None = None) -> Path:
    """Where the table is copied for `landfall query --local`: `data`, else the project's."""
    return data or work_dir() / "data"


@dataclass
class DemoOptions:
    objects: int = 40
    records: int = 2000
    bad_ratio: float = 0.01
    batch_size: int = 4
    concurrency: int = 8
    tolerated_failure_percentage: float = 5.0
    max_rejected_percentage: float = 5.0  # a run rejecting more lines is flagged, and the demo fails
    seed: int = 7
    source: Path | None = None
    existing_bucket: str | None = None  # the stack adopts a bucket made outside it (EventBridge → queue)
    landing_prefix: str = "raw/"
    out: Path | None = None
    data: Path | None = None  # where the table is copied for `landfall query --local` (None: local_data())
    timeout: float = 600.0
    log_dir: Path | None = None
    verbose: bool = False  # the functions' logs on the terminal instead of in files
    keep: float = 0.0  # minutes the emulator stays up afterwards, for the --local commands
    compact: bool = False  # the table's upkeep after the runs: their small files compacted


class Parser(argparse.ArgumentParser):
    """An error is one line (the option, the value, the bounds) and exit status 2: no usage dump."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message}\n")
        raise SystemExit(2)


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{value} is not {_bounds(minimum, maximum)}")
        return value

    return parse


def number(minimum: float, maximum: float | None = None, above: bool = False) -> Callable[[str], float]:
    """A number of at least `minimum` (more than it when `above`) and at most `maximum`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        low = value <= minimum if above else value < minimum
        if low or (maximum is not None and value > maximum) or value != value:
            raise argparse.ArgumentTypeError(f"{text} is not {_bounds(minimum, maximum, above)}")
        return value

    return parse


def _bounds(minimum: float, maximum: float | None, above: bool = False) -> str:
    if maximum is None:
        return f"{'more than' if above else 'at least'} {minimum:g}"
    return f"between {minimum:g} and {maximum:g}"


def hour(text: str) -> datetime:
    """An hour in UTC: 2026-11-22T13, 2026-11-22, or a full ISO 8601 time."""
    try:
        moment = datetime.fromisoformat(text if len(text) != 13 else f"{text}:00")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an hour: write 2026-11-22T13 or 2026-11-22") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def folder(must_exist: bool) -> Callable[[str], Path]:
    """A folder: one that exists (with `must_exist`), or one that can be made (not an existing file)."""

    def parse(text: str) -> Path:
        path = Path(text).expanduser()
        if must_exist and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is not a folder")
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
        return path

    return parse


def json_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    try:
        json.loads(path.read_bytes())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text} is not JSON: {error}") from None
    return path


def landfall_command() -> str:
    """The `landfall` command as it must be typed here: its name when the shell finds this one, else the
    path of the project's (`.venv/bin/landfall` from the project's folder). Under make (MAKELEVEL), PATH
    is the Makefile's, which puts .venv/bin first: the user's shell does not."""
    try:
        installed = project_dir() / ".venv" / "bin" / "landfall"
    except NotInProject:  # e.g. `status --stack` run anywhere: the command the shell found
        return "landfall"
    found = None if os.environ.get("MAKELEVEL") else shutil.which("landfall")
    if found and installed.exists() and Path(found).resolve() == installed.resolve():
        return "landfall"
    if not installed.exists():
        return "landfall"
    relative = os.path.relpath(installed)
    return relative if not relative.startswith(os.pardir * 3) else str(installed)
