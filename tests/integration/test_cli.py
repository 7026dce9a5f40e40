"""`landfall backfill / status / report / redrive --local` against the embedded emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from landfall.jobs.samples import make_dataset
from landfall_cli.main import main
from landfall_cli.target import write_local_state
from tests.integration.conftest import manifest_keys

pytestmark = pytest.mark.emulator

HOUR = "2031/01/01/05"


@pytest.fixture
def local(emulator, tmp_path, monkeypatch):
    """The state file `make demo ARGS='--keep N'` writes, pointing at the test emulator."""
    state = tmp_path / "local.json"
    write_local_state(state, emulator.endpoint_url, emulator.stack.region, emulator.stack.outputs())
    monkeypatch.setenv("LANDFALL_LOCAL_STATE", str(state))
    monkeypatch.setenv("COLUMNS", "160")
    return emulator


def _land(emulator, hour: str, count: int, corrupt: int = 0, archived: int = 0) -> list[str]:
    """`count` objects: the first `corrupt` cut short, the next `archived` in Glacier (unreadable until restored).
    They land unannounced, as objects from before the stack: no notification processes them, so what a
    backfill finds in the table does not depend on how far a notification's run got."""
    dataset = make_dataset(objects=count, records=50, bad_ratio=0.0, seed=5, stream=f"cli-{hour.replace('/', '')}")
    s3, bucket = emulator.client("s3"), emulator.landing_bucket
    notifying = s3.get_bucket_notification_configuration(Bucket=bucket)
    notifying.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    keys = []
    try:
        for index, obj in enumerate(dataset.objects):
            key = f"raw/{hour}/{obj.key.rsplit('/', 1)[-1]}"
            body = obj.body[:-20] if index < corrupt else obj.body  # a truncated gzip stream fails its object
            storage = "GLACIER" if corrupt <= index < corrupt + archived else "STANDARD"
            s3.put_object(Bucket=bucket, Key=key, Body=body, StorageClass=storage)
            keys.append(key)
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notifying)
    return keys


def _backfills(emulator) -> list[dict]:
    return [e for e in emulator.executions() if e["name"].startswith("backfill-")]


def _run_ids(output: str, prefix: str) -> list[str]:
    return [word for word in output.split() if word.startswith(prefix) and len(word) == len(prefix) + 32]


def test_dry_run_plans_and_starts_nothing(local, capsys):
    _land(local, "2031/01/01/03", 3)
    before = len(_backfills(local))
    assert main(["backfill", "--local", "--since", "2031-01-01T03", "--until", "2031-01-01T04", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "objects" in out and "3" in out
    assert "batches = child executions" in out and "estimated cost" in out and "$" in out
    assert "dry run: nothing started" in out
    assert len(_backfills(local)) == before


def test_backfill_runs_once_reports_and_follows(local, capsys):
    keys = _land(local, HOUR, 3)
    assert main(["backfill", "--local", "--since", "2031-01-01T05", "--until", "2031-01-01T06"]) == 0
    (run_id,) = set(_run_ids(capsys.readouterr().out, "backfill-"))
    execution = next(e for e in local.executions() if e["name"] == run_id)
    execution_input = json.loads(
        local.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    )
    assert execution_input["source"] == "backfill" and execution_input["objects"] == 3
    manifest = local.client("s3").get_object(Bucket=local.pipeline_bucket, Key=execution_input["manifest"]["key"])
    assert manifest_keys(manifest["Body"].read()) == sorted(keys)

    assert main(["status", run_id, "--local", "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    # in objects and records, as the demo and the report count them (the map's two batches are not shown)
    assert f"{run_id}: SUCCEEDED — 3 objects: 3 processed, 0 failed, 0 pending; " in out
    assert f"report {run_id} --local" in out

    # the same objects again: the table holds them, so nothing is planned and no execution starts
    count = len(_backfills(local))
    assert main(["backfill", "--local", "--prefix", f"raw/{HOUR}/"]) == 0
    out = capsys.readouterr().out
    assert "nothing to process" in out and "3 already in the table" in out and not _run_ids(out, "backfill-")
    assert len(_backfills(local)) == count

    assert main(["report", run_id, "--local", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "SUCCEEDED" and report["objects"]["processed"] == 3
    assert main(["report", run_id, "--local"]) == 0
    assert run_id in capsys.readouterr().out


def test_redrive_starts_a_run_of_the_objects_a_retry_can_fix_and_no_other(local, capsys):
    keys = _land(local, "2031/01/01/07", 3, corrupt=1, archived=1)
    assert main(["backfill", "--local", "--prefix", "raw/2031/01/01/07/"]) == 0
    (run_id,) = set(_run_ids(capsys.readouterr().out, "backfill-"))
    assert main(["status", run_id, "--local", "--timeout", "300"]) == 1  # two of three failed: over the tolerance
    assert "FAILED" in capsys.readouterr().out

    assert main(["redrive", run_id, "--local", "--dry-run"]) == 0
    assert not _run_ids(capsys.readouterr().out, "redrive-")
    assert main(["redrive", run_id, "--local"]) == 0
    (redrive_id,) = set(_run_ids(capsys.readouterr().out, "redrive-"))
    execution_input = json.loads(
        local.client("stepfunctions").describe_execution(
            executionArn=local.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{redrive_id}"
        )["input"]
    )
    assert execution_input["source"] == "redrive" and execution_input["objects"] == 1
    manifest = local.client("s3").get_object(Bucket=local.pipeline_bucket, Key=execution_input["manifest"]["key"])
    assert manifest_keys(manifest["Body"].read()) == [keys[1]]  # the archived one: restored, it can succeed
    assert main(["redrive", run_id, "--local"]) == 0  # twice: the same run
    assert set(_run_ids(capsys.readouterr().out, "redrive-")) == {redrive_id}


def test_a_run_whose_failures_a_retry_cannot_fix_has_nothing_to_redrive_and_says_why(local, capsys):
    _land(local, "2031/01/01/08", 2, corrupt=1)
    assert main(["backfill", "--local", "--prefix", "raw/2031/01/01/08/"]) == 0
    (run_id,) = set(_run_ids(capsys.readouterr().out, "backfill-"))
    assert main(["status", run_id, "--local", "--timeout", "300"]) == 1
    capsys.readouterr()
    assert main(["redrive", run_id, "--local"]) == 0
    said = capsys.readouterr().out
    assert not _run_ids(said, "redrive-")
    assert f"{run_id} has nothing to redrive: its 1 failed object cannot succeed on a retry" in " ".join(said.split())


def test_commands_say_when_there_is_no_emulator(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDFALL_LOCAL_STATE", str(tmp_path / "absent.json"))
    assert main(["status", "backfill-x", "--local"]) == 2
    assert "no local emulator is running" in capsys.readouterr().err


def test_unknown_run(local, capsys):
    assert main(["status", "backfill-" + "0" * 32, "--local", "--no-follow"]) == 2
    assert "no run" in capsys.readouterr().err


def test_a_command_prints_its_own_words_not_the_librarys_json_log(local):
    _land(local, "2031/01/01/07", 1)
    done = subprocess.run(  # noqa: S603 - a terminal sees what the process writes, whatever its handlers hold
        [
            sys.executable,
            "-m",
            "landfall_cli.main",
            "backfill",
            "--local",
            "--since",
            "2031-01-01T07",
            "--until",
            "2031-01-01T08",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ.copy(),
    )
    assert done.returncode == 0 and "started backfill-" in done.stdout, done.stdout + done.stderr
    assert '"level"' not in done.stdout + done.stderr
