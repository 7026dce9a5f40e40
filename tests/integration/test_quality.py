"""The default job's quality rules on the emulator: a run of planted data (two thirds of `user_id` null,
repeated `event_id`s, events eight hours old) breaches each rule it should, once, and a run of healthy
data breaches none; each observed value is what DuckDB computes over the run's curated rows and raw
objects. The report's Quality section, its chart, and `landfall quality` show them."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from landfall.core.layout import report_key
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall_cli.main import main
from tests.integration.conftest import execution_arn_of, read_json, start_run
from tests.integration.test_upkeep import _serve_the_cli
from tests.tables import duckdb_query

pytestmark = pytest.mark.emulator

CONFIG = RunConfig(max_concurrency=2, max_items_per_batch=2, max_batch_bytes=1 << 20, tolerated_failure_percentage=0)


def _events(rng: random.Random, count: int, age: timedelta, nulls: float, repeats: float) -> list[dict]:
    """`count` events `age` old (give or take five minutes); a share null in `user_id`, a share repeating
    an earlier `event_id`."""
    now, events = datetime.now(UTC), []
    for n in range(count):
        repeat = events and rng.random() < repeats
        events.append(
            {
                "event_id": rng.choice(events)["event_id"] if repeat else f"q-{rng.getrandbits(64):x}",
                "ts": (now - age - timedelta(seconds=rng.randrange(300))).isoformat().replace("+00:00", "Z"),
                "type": "click",
                "value": 1.0,
                "user_id": None if rng.random() < nulls else f"u-{n % 50}",
            }
        )
    return events


def _land(emulator, name: str, events: list[dict]) -> list[ManifestItem]:
    s3, items = emulator.client("s3"), []
    for part in range(2):
        body = "".join(json.dumps(e) + "\n" for e in events[part::2]).encode()
        key = f"t/quality/{name}/{part}.jsonl"
        s3.put_object(Bucket=emulator.pipeline_bucket, Key=key, Body=body)
        items.append(ManifestItem(bucket=emulator.pipeline_bucket, key=key, size=len(body)))
    return items


def _run(emulator, name: str, events: list[dict]) -> dict:
    started = start_run(emulator, _land(emulator, name, events), CONFIG, source="notification")
    assert emulator.wait_for_execution(execution_arn_of(emulator, started))["status"] == "SUCCEEDED"
    return read_json(emulator, emulator.pipeline_bucket, report_key(started.run_id))


def _truth(emulator, name: str, tmp_path) -> dict[str, float]:
    """The rules' measures, computed by DuckDB over the run's raw objects (every line is valid), each
    line's lag from the time its object landed."""
    s3, raw, landed = emulator.client("s3"), tmp_path / name, {}
    raw.mkdir(parents=True, exist_ok=True)
    for part in range(2):
        got = s3.get_object(Bucket=emulator.pipeline_bucket, Key=f"t/quality/{name}/{part}.jsonl")
        (raw / f"{part}.jsonl").write_bytes(got["Body"].read())
        landed[part] = got["LastModified"].timestamp()
    columns = "columns={'event_id': 'VARCHAR', 'user_id': 'VARCHAR', 'ts': 'TIMESTAMPTZ'}"
    lines = " UNION ALL ".join(
        f"SELECT event_id, user_id, {t} - epoch(ts) AS lag FROM read_json('{raw.as_posix()}/{p}.jsonl', {columns})"
        for p, t in landed.items()
    )
    ((count, nulls, distinct, p99, late),) = duckdb_query(
        "SELECT count(*), count(*) FILTER (WHERE user_id IS NULL), count(DISTINCT event_id), "
        f"quantile_disc(lag, 0.99), count(*) FILTER (WHERE lag > 21600) FROM ({lines})"
    )
    return {
        "rows": float(count),
        "null_share.user_id": nulls / count,
        "duplicate_share": (count - distinct) / count,
        "lag_p99_seconds": p99,
        "late_share.21600s": late / count,
    }


def test_planted_data_breaches_each_rule_it_should_and_healthy_data_none(emulator, tmp_path, monkeypatch, capsys):
    _serve_the_cli(emulator, tmp_path, monkeypatch)
    rng = random.Random(25)
    planted = _run(emulator, "planted", _events(rng, 600, timedelta(hours=8), nulls=0.65, repeats=0.05))
    healthy = _run(emulator, "healthy", _events(rng, 600, timedelta(minutes=10), nulls=0.1, repeats=0.0))
    for report, name in ((planted, "planted"), (healthy, "healthy")):
        truth, outcomes = _truth(emulator, name, tmp_path), {}
        for rule in report["quality"]["rules"]:
            outcomes[rule["rule"]] = rule["outcome"]
            if rule["measure"] in truth and not rule["rule"].startswith("drift."):
                expected = truth[rule["measure"]]
                if rule["measure"] == "lag_p99_seconds":  # its bin's upper bound: at most 25 % above
                    assert expected <= rule["observed"] <= 1.25 * expected, (name, rule)
                else:
                    assert rule["observed"] == pytest.approx(expected), (name, rule)
        broken = {rule for rule, outcome in outcomes.items() if outcome == "breached"}
        if name == "planted":
            assert broken >= {"null_share.user_id", "lag_p99_seconds", "late_share.21600s"}
            assert "rows" not in broken and report["status"] == "SUCCEEDED"  # the default job's rules warn
            assert any(w.startswith("quality rule null_share.user_id: ") for w in report["warnings"])
        else:
            assert broken <= {"drift.rows", "drift.null_share.user_id"}  # the trailing runs are other tests'
    markdown = (
        emulator.client("s3")
        .get_object(Bucket=emulator.pipeline_bucket, Key=report_key(planted["run_id"], "report.md"))["Body"]
        .read()
        .decode()
    )
    assert "## Quality" in markdown and markdown.index("## Quality") < markdown.index("## Rows written per partition")
    chart = (
        emulator.client("s3")
        .get_object(Bucket=emulator.pipeline_bucket, Key=report_key(healthy["run_id"], "quality.svg"))["Body"]
        .read()
    )
    assert chart.startswith(b"<svg") and b"null_share.user_id" in chart
    assert main(["quality", "--local", "--runs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "quality rules over the last 2 runs" in printed and "late_share.21600s" in printed
