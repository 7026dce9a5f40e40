"""Every option is checked before anything starts: one line naming the option and its bounds, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from landfall_cli.main import main
from tests.paths import REPO_ROOT


def refused(capsys, *argv: str) -> str:
    """The one line `landfall` printed refusing `argv` (exit status 2, nothing on stdout)."""
    with pytest.raises(SystemExit) as stopped:
        status = main(list(argv))
        raise SystemExit(status)  # a check made by the command, not the parser
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == "", (out, err)
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["demo", "--objects", "0"], "--objects: 0 is not at least 1"),
        (["demo", "--objects", "-5"], "--objects: -5 is not at least 1"),
        (["demo", "--records", "many"], "--records: 'many' is not a whole number"),
        (["demo", "--bad-ratio", "2"], "--bad-ratio: 2 is not between 0 and 1"),
        (["demo", "--bad-ratio", "nan"], "--bad-ratio: nan is not between 0 and 1"),
        (["demo", "--max-rejected-percentage", "101"], "--max-rejected-percentage: 101 is not between 0 and 100"),
        (["demo", "--timeout", "0"], "--timeout: 0 is not more than 0"),
        (["demo", "--keep", "-1"], "--keep: -1 is not at least 0"),
        (["status", "r", "--local", "--timeout", "-3"], "--timeout: -3 is not more than 0"),
        (["backfill", "--local", "--objects-per-run", "0"], "--objects-per-run: 0 is not at least 1"),
    ],
)
def test_numbers_out_of_bounds(capsys, argv, says):
    assert says in refused(capsys, *argv)


def test_folders_that_cannot_be(capsys, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert f"--out: {a_file} is a file, not a folder" in refused(capsys, "demo", "--out", str(a_file))
    assert f"--source: {tmp_path}/missing is not a folder" in refused(capsys, "demo", "--source", f"{tmp_path}/missing")
    assert f"--data: {a_file} is a file, not a folder" in refused(
        capsys, "query", "--local", "--data", str(a_file), "q"
    )
    assert "--timeline: " in refused(capsys, "report", "r", "--local", "--timeline", str(a_file))


def test_hours_and_ranges(capsys):
    assert "--since: 'yesterday' is not an hour: write 2026-11-22T13 or 2026-11-22" in refused(
        capsys, "backfill", "--local", "--since", "yesterday"
    )
    assert "--since 2026-11-22T14 is not before --until 2026-11-22T13" in refused(
        capsys, "backfill", "--local", "--since", "2026-11-22T14", "--until", "2026-11-22T13"
    )
    assert "--until needs --since" in refused(capsys, "backfill", "--local", "--until", "2026-11-22T13")


def test_settings_the_template_bounds_name_the_option_and_the_parameter(capsys):
    """Checked against the template's own bounds (as CloudFormation checks them) before the emulator starts."""
    says = refused(capsys, "demo", "--batch-size", "0")
    assert says == "landfall demo: --batch-size (MaxItemsPerBatch): 0 is below its minimum 1\n"
    assert "--tolerated-failure-percentage (ToleratedFailurePercentage): 150 is above its maximum 100" in refused(
        capsys, "demo", "--tolerated-failure-percentage", "150"
    )
    assert "--concurrency (MaxConcurrency): 10001 is above its maximum 10000" in refused(
        capsys, "demo", "--concurrency", "10001"
    )

    assert "--existing-bucket (ExistingLandingBucket): 'Not_A_Bucket' does not match" in refused(
        capsys, "demo", "--existing-bucket", "Not_A_Bucket"
    )
    assert 'CreatedBucketHasAPrefix: A bucket the stack creates needs a LandingPrefix other than ""' in refused(
        capsys, "demo", "--landing-prefix", ""
    )


def test_choices_and_event_files(capsys, tmp_path):
    assert "invalid choice: 'Processor'" in refused(capsys, "invoke", "Processor", "-e", "events/processor/batch.json")
    assert f"--event: {tmp_path}/none.json is not a file" in refused(
        capsys, "invoke", "ProcessorFunction", "-e", f"{tmp_path}/none.json"
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert f"--event: {broken} is not JSON" in refused(capsys, "invoke", "ProcessorFunction", "-e", str(broken))
    assert "one of the arguments --local --stack is required" in refused(capsys, "status", "r")


def test_the_empty_source_folder_is_refused_before_anything_starts(capsys, tmp_path):
    assert refused(capsys, "demo", "--source", str(tmp_path)) == f"landfall demo: --source {tmp_path} holds no files\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        *([name, "--help"] for name in ("demo", "backfill", "status", "report", "redrive", "query", "invoke")),
    ],
)
def test_help_loads_nothing_a_command_needs(argv):
    """Help answers at once: it loads none of the emulator, the AWS SDK, the table's readers, the layer."""
    probe = (
        "import json, sys\nfrom landfall_cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "usage: landfall" in done.stdout
    assert not loaded & {"moto", "boto3", "botocore", "duckdb", "rich", "pydantic", "landfall", "samcli", "arro3"}


def test_commands_that_operate_a_stack_load_neither_the_emulator_nor_the_sam_cli(tmp_path):
    """backfill, status, report, redrive and query load moto (~1 s, ~150 MB) or the SAM CLI only for
    the commands that run them (demo, invoke)."""
    probe = (
        "import json, sys\nfrom landfall_cli.main import main\n"
        "main(['status', 'r', '--local'])\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    env = {**os.environ, "LANDFALL_LOCAL_STATE": str(tmp_path / "local.json")}  # no emulator: exit 2, said so
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,  # noqa: S603
        env=env,
    )
    assert "no local emulator is running" in done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "landfall" in loaded and not loaded & {"moto", "samcli", "duckdb", "werkzeug"}


def test_the_local_emulators_state_is_the_projects_from_any_of_its_folders():
    """`--local` finds the emulator `make demo --keep` started whatever folder of the project a command runs in."""
    probe = "from landfall_cli.target import local_state_path; print(local_state_path())"
    env = {k: v for k, v in os.environ.items() if k != "LANDFALL_LOCAL_STATE"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT / "tests" / "unit",
        env=env,
        capture_output=True,
        text=True,  # noqa: S603
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == str(REPO_ROOT / ".landfall" / "local.json")


@pytest.mark.parametrize("argv", [["status", "r", "--local"], ["demo"], ["invoke", "ProcessorFunction", "-e", "{}"]])
def test_outside_a_project_the_commands_that_need_one_say_so_in_one_line(tmp_path, argv):
    """The project is where template.yaml is, found from the current folder up, never where `landfall` is
    installed: elsewhere, a command that needs it says so in one line, exit status 2."""
    event = tmp_path / "event.json"
    event.write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != "LANDFALL_LOCAL_STATE"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "landfall_cli.main", *(str(event) if a == "{}" else a for a in argv)],
        cwd=tmp_path,
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and f"no template.yaml in {tmp_path.resolve()} or any folder" in done.stderr


def test_hints_name_the_checkouts_command_when_only_makes_path_finds_it(monkeypatch):
    from landfall_cli.options import landfall_command

    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("PATH", f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("MAKELEVEL", raising=False)
    assert landfall_command() == "landfall"  # the user's own shell finds it: its name
    monkeypatch.setenv("MAKELEVEL", "1")  # `make demo`: the Makefile put .venv/bin on PATH, not the user
    assert landfall_command() == os.path.join(".venv", "bin", "landfall")
