"""Every kind of quality rule on the emulator, each broken exactly once: four runs of planted data (too few
rows; nulls, duplicates and cut lines; stale events, a disallowed type and schema-bad lines; a few late
events and a drift of values out of range) through the default job with a rule of each kind
(`every_rule_job`). Each run breaches exactly its own rules, and each observed value is what DuckDB
computes over the run's curated rows and its raw objects. The report's Quality section, its chart, and
`landfall quality` show them."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from landfall.core.layout import report_key, run_data_prefix
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall_cli.main import main
from tests.integration import every_rule_job
from tests.integration.conftest import execution_arn_of, read_json, start_run
from tests.integration.test_upkeep import _serve_the_cli
from tests.tables import download, duckdb_query

pytestmark = pytest.mark.emulator

CONFIG = RunConfig(max_concurrency=2, max_items_per_batch=2, max_batch_bytes=1 << 20, tolerated_failure_percentage=0)
ALLOWED = ("page_view", "click", "purchase")  # every_rule_job's AllowedValues


@dataclass(frozen=True)
class Plant:
    """A run's lines: `count` events ten minutes old, and how many of them are planted each way."""

    count: int = 400
    nulls: int = 40  # `user_id` null
    repeats: int = 0  # an earlier event's `event_id`
    outside: int = 0  # `value` outside 0 … 100
    disallowed: int = 0  # a `type` the schema allows and the rule does not
    old: int = 0  # `age` old
    age: timedelta = timedelta(hours=8)
    cut: int = 0  # lines cut short (invalid_json), beside the events
    schema_bad: int = 0  # lines without `ts` (schema), beside the events


# each run's breaches: every rule of every_rule_job once, and no rule twice
RUNS = {
    "few": (Plant(count=60, nulls=6, outside=6), {"rows", "outside_share.value"}),
    "messy": (Plant(nulls=240, repeats=20, cut=35), {"null_share.user_id", "rejected_share", "duplicate_share"}),
    "stale": (
        Plant(old=280, age=timedelta(hours=3), disallowed=20, schema_bad=12),
        {"lag_p50_seconds", "disallowed_share.type", "rejected_share.schema"},
    ),
    "late": (Plant(old=20, outside=2), {"lag_p99_seconds", "late_share.21600s", "drift.outside_share.value"}),
}


def _lines(rng: random.Random, plant: Plant) -> list[bytes]:
    now, events = datetime.now(UTC), []

    def chosen(k: int) -> set[int]:
        return set(rng.sample(range(1, plant.count), k))

    nulls, repeats, outside, disallowed, old = (
        chosen(plant.nulls),
        chosen(plant.repeats),
        chosen(plant.outside),
        chosen(plant.disallowed),
        chosen(plant.old),
    )
    for n in range(plant.count):
        age = (plant.age if n in old else timedelta(minutes=10)) + timedelta(seconds=rng.randrange(300))
        events.append(
            {
                "event_id": events[rng.randrange(n)]["event_id"] if n in repeats else f"q-{rng.getrandbits(64):x}",
                "ts": (now - age).isoformat().replace("+00:00", "Z"),
                "type": "error" if n in disallowed else rng.choice(ALLOWED),
                "value": rng.choice((-1.0, 500.0)) if n in outside else rng.uniform(0, 100),
                "user_id": None if n in nulls else f"u-{n % 50}",
            }
        )
    lines = [json.dumps(e).encode() for e in events]
    lines += [json.dumps(e).encode()[:-9] for e in events[: plant.cut]]
    lines += [json.dumps({k: v for k, v in e.items() if k != "ts"}).encode() for e in events[: plant.schema_bad]]
    rng.shuffle(lines)
    return lines


def _land(emulator, name: str, lines: list[bytes]) -> list[ManifestItem]:
    s3, items = emulator.client("s3"), []
    for part in range(2):
        body = b"".join(line + b"\n" for line in lines[part::2])
        key = f"t/quality/{name}/{part}.jsonl"
        s3.put_object(Bucket=emulator.pipeline_bucket, Key=key, Body=body)
        items.append(ManifestItem(bucket=emulator.pipeline_bucket, key=key, size=len(body)))
    return items


def _run(emulator, name: str, lines: list[bytes], failed: bool) -> dict:
    started = start_run(emulator, _land(emulator, name, lines), CONFIG, source="notification")
    assert emulator.wait_for_execution(execution_arn_of(emulator, started))["status"] == (
        "FAILED" if failed else "SUCCEEDED"
    )
    return read_json(emulator, emulator.pipeline_bucket, report_key(started.run_id))


def _raw_truth(emulator, name: str, tmp_path) -> dict[str, float]:
    """The measures of the run's raw lines, by DuckDB: lines rejected (not JSON; JSON without `ts`) and each
    valid line's lag from the time its object landed."""
    s3, raw, landed = emulator.client("s3"), tmp_path / "raw" / name, {}
    raw.mkdir(parents=True)
    for part in range(2):
        got = s3.get_object(Bucket=emulator.pipeline_bucket, Key=f"t/quality/{name}/{part}.jsonl")
        (raw / f"{part}.jsonl").write_bytes(got["Body"].read())
        landed[part] = got["LastModified"].timestamp()
    lines = " UNION ALL ".join(
        f"SELECT {t} AS landed, unnest(string_split(content, chr(10))) AS line FROM read_text('{raw}/{p}.jsonl')"
        for p, t in landed.items()
    )
    ((read, cut, schema_bad, p50, p99, late),) = duckdb_query(
        "WITH lines AS (SELECT landed, line, json_valid(line) AS ok, CASE WHEN ok THEN line->>'ts' END AS ts "
        f"FROM ({lines}) WHERE line <> ''), "
        "lags AS (SELECT landed - epoch(ts::TIMESTAMPTZ) AS lag FROM lines WHERE ok AND ts IS NOT NULL) "
        "SELECT (SELECT count(*) FROM lines), (SELECT count(*) FILTER (WHERE NOT ok) FROM lines), "
        "(SELECT count(*) FILTER (WHERE ok AND ts IS NULL) FROM lines), quantile_disc(lag, 0.5), "
        "quantile_disc(lag, 0.99), count(*) FILTER (WHERE lag > 21600) / count(*) FROM lags"
    )
    return {
        "rejected_share": (cut + schema_bad) / read,
        "rejected_share.schema": schema_bad / read,
        "lag_p50_seconds": p50,
        "lag_p99_seconds": p99,
        "late_share.21600s": late,
    }


def _curated_truth(emulator, run_id: str, tmp_path) -> dict[str, float]:
    """The measures of the run's rows in the curated table, by DuckDB over its Parquet files."""
    table = every_rule_job.EveryRuleJob.name
    files = download(emulator.client("s3"), emulator.pipeline_bucket, run_data_prefix(table, run_id), tmp_path)
    ((rows, nulls, distinct, outside, disallowed),) = duckdb_query(
        "SELECT count(*), count(*) FILTER (WHERE user_id IS NULL), count(DISTINCT event_id), "
        f"count(*) FILTER (WHERE value NOT BETWEEN 0 AND 100), count(*) FILTER (WHERE type NOT IN {ALLOWED}) "
        f"FROM read_parquet('{files}/**/*.parquet')"
    )
    return {
        "rows": float(rows),
        "null_share.user_id": nulls / rows,
        "duplicate_share": (rows - distinct) / rows,
        "outside_share.value": outside / rows,
        "disallowed_share.type": disallowed / rows,
    }


def _assert_measured(report: dict, truth: dict[str, float], name: str) -> None:
    for rule in report["quality"]["rules"]:
        expected = truth[rule["measure"]]
        if rule["measure"].startswith("lag_"):  # the upper bound of its bin: at most 25 % above
            assert expected <= rule["observed"] <= 1.25 * expected, (name, rule)
        else:
            assert rule["observed"] == pytest.approx(expected), (name, rule)


@pytest.fixture
def every_rule(emulator):
    """The emulator's processor and reducer running every_rule_job (restored after)."""
    functions = [emulator.function_name(f) for f in ("ProcessorFunction", "ReducerFunction")]
    original = emulator.lambdas.functions[functions[0]].environment["LANDFALL_JOB"]
    for function in functions:
        emulator.lambdas.reconfigure(function, {"LANDFALL_JOB": every_rule_job.SPEC})
    yield emulator
    for function in functions:
        emulator.lambdas.reconfigure(function, {"LANDFALL_JOB": original})


def test_each_rule_is_breached_by_its_planted_run_only(every_rule, tmp_path, monkeypatch, capsys):
    emulator = every_rule
    _serve_the_cli(emulator, tmp_path, monkeypatch)
    labels = [rule.label for rule in every_rule_job.EveryRuleJob.quality]
    assert sorted(label for _, breaks in RUNS.values() for label in breaks) == sorted(labels)
    rng, reports = random.Random(25), {}
    for name, (plant, breaks) in RUNS.items():
        failed = bool(breaks & {"rows", "duplicate_share"})  # the rules of severity fail
        reports[name] = report = _run(emulator, name, _lines(rng, plant), failed)
        truth = _raw_truth(emulator, name, tmp_path) | _curated_truth(emulator, report["run_id"], tmp_path / name)
        assert truth["rows"] == report["records"]["valid"] == plant.count
        _assert_measured(report, truth, name)
        outcomes = {rule["rule"]: rule["outcome"] for rule in report["quality"]["rules"]}
        assert {rule for rule, outcome in outcomes.items() if outcome == "breached"} == breaks, name
        assert (report["status"] == "FAILED") == failed, name
        warned = {w.split(":")[0].removeprefix("quality rule ") for w in report["warnings"] if w.startswith("quality")}
        assert warned == breaks - {"rows", "duplicate_share"}, name
    drift = {r["rule"]: r for r in reports["stale"]["quality"]["rules"]}["drift.outside_share.value"]
    assert drift["outcome"] == "passed" and drift["bound"].endswith("(2 runs)")  # few's 10 % and messy's 0
    markdown = (
        emulator.client("s3")
        .get_object(Bucket=emulator.pipeline_bucket, Key=report_key(reports["late"]["run_id"], "report.md"))["Body"]
        .read()
        .decode()
    )
    assert "## Quality" in markdown and markdown.index("## Quality") < markdown.index("## Rows written per partition")
    chart = (
        emulator.client("s3")
        .get_object(Bucket=emulator.pipeline_bucket, Key=report_key(reports["late"]["run_id"], "quality.svg"))["Body"]
        .read()
    )
    assert chart.startswith(b"<svg") and all(label.encode() in chart for label in labels)
    assert main(["quality", "--local", "--runs", "4"]) == 0
    printed = capsys.readouterr().out
    assert "quality rules over the last 4 runs" in printed and "drift.outside_share.value" in printed
