"""The curated table as its users read it, end to end on the emulator: two readers that are not its
writer (pyarrow and DuckDB) agree with the report per object and partition, see the declared types
and each record's event time in its partition; a re-run adds no row; the unique view removes the
duplicates a producer's retry planted across objects; the catalog describes exactly these files."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from landfall.core.layout import report_key
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs.events import EventsJob
from landfall.jobs.samples import event_lines
from landfall.table.catalog import unique_view_sql
from landfall.table.schema import Kind, table_of
from landfall_cli.query import local_connection
from tests.integration.conftest import execution_arn_of, object_summaries, read_json, start_run
from tests.paths import TEMPLATE_PATH
from tests.tables import duckdb_query

pytestmark = pytest.mark.emulator

TABLE = table_of(EventsJob())
ARROW_TYPES = {  # how a reader that is not the writer sees each kind
    Kind.STRING: pa.string(),
    Kind.FLOAT: pa.float64(),
    Kind.INT: pa.int64(),
    Kind.JSON: pa.string(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}
CONFIG = RunConfig(max_concurrency=4, max_items_per_batch=2, max_batch_bytes=1 << 20, tolerated_failure_percentage=0)


def _land(emulator) -> tuple[list[ManifestItem], int]:
    """Three objects of events (a few bad lines, some late ones), and a fourth that repeats 25 valid
    records of the first (a producer's retry): returns the items and the number of repeats."""
    rng = random.Random(21)
    start = datetime(2026, 11, 22, 13, 30, tzinfo=UTC)
    bodies = {f"t/table/{n}.jsonl": [line for line, _ in event_lines(rng, 300, start, 0.02)] for n in range(3)}
    good = [line for line in bodies["t/table/0.jsonl"] if line.startswith(b'{"event_id"')][:25]
    bodies["t/table/retry.jsonl"] = good + [line for line, _ in event_lines(rng, 10, start, 0.0)]
    s3 = emulator.client("s3")
    items = []
    for key, lines in bodies.items():
        body = b"\n".join(lines) + b"\n"
        s3.put_object(Bucket=emulator.pipeline_bucket, Key=key, Body=body)
        items.append(ManifestItem(bucket=emulator.pipeline_bucket, key=key, size=len(body)))
    return items, len(good)


def _run(emulator, items, source) -> tuple[dict, list[dict]]:
    started = start_run(emulator, items, CONFIG, source=source)
    assert emulator.wait_for_execution(execution_arn_of(emulator, started))["status"] == "SUCCEEDED"
    report = read_json(emulator, emulator.pipeline_bucket, report_key(started.run_id))
    assert report["reconciliation"]["ok"], report["reconciliation"]
    return report, object_summaries(emulator, started.run_id)


def _download(emulator, summaries: list[dict], into: Path) -> list[Path]:
    s3 = emulator.client("s3")
    paths = []
    for file in (f for obj in summaries for f in obj["curated"]):
        path = into / file["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=emulator.pipeline_bucket, Key=file["key"])["Body"].read())
        paths.append(path)
    return paths


def _scan(root: Path) -> str:
    return f"read_parquet('{root.as_posix()}/curated/events/**/*.parquet', hive_partitioning = true)"


def test_independent_readers_agree_with_the_report_the_declaration_and_the_catalog(emulator, tmp_path):
    items, repeats = _land(emulator)
    report, summaries = _run(emulator, items, "backfill")
    paths = _download(emulator, summaries, tmp_path)
    valid = report["records"]["valid"]
    # pyarrow: every file holds the rows its object's summary says, of the declared types
    for obj in summaries:
        for file in obj["curated"]:
            table = pq.read_table(tmp_path / file["key"])
            assert table.num_rows == file["rows"]
            assert table.schema == pa.schema(
                [pa.field(c.name, ARROW_TYPES[c.kind], nullable=c.nullable) for c in TABLE.columns]
            )
        assert sum(f["rows"] for f in obj["curated"]) == obj["valid"]
    assert sum(pq.read_metadata(p).num_rows for p in paths) == valid == report["records"]["written"]
    # DuckDB: rows per object and partition as the summaries say, partitions as each event's time says
    counted = duckdb_query(f"SELECT source_key, dt, hour, count(*) FROM {_scan(tmp_path)} GROUP BY ALL")
    expected = {(obj["key"], *f["key"].split("/")[2:4], f["rows"]) for obj in summaries for f in obj["curated"]}
    assert {(key, f"dt={dt}", f"hour={hour:02d}", n) for key, dt, hour, n in counted} == expected
    misplaced = (
        f"SELECT count(*) FROM {_scan(tmp_path)} WHERE strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d') <> "
        f"CAST(dt AS VARCHAR) OR CAST(strftime(ts AT TIME ZONE 'UTC', '%H') AS INTEGER) <> hour"
    )
    assert duckdb_query(misplaced) == [(0,)]
    # the catalog's names, types and view, over the same files, as `landfall query --local` sets them up
    with local_connection(TABLE, tmp_path) as connection:
        described = connection.execute('DESCRIBE "events"').fetchall()
        assert [(name, kind) for name, kind, *_ in described] == [(c.name, c.types.duckdb) for c in TABLE.columns] + [
            (p.name, "VARCHAR") for p in TABLE.partition_columns
        ]
        assert connection.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (
            valid,
            valid - repeats,
        )
        assert connection.execute("SELECT count(*) FROM events_unique").fetchone() == (valid - repeats,)
        repeated = "SELECT event_id FROM events GROUP BY 1 HAVING count(*) > 1"
        kept = connection.execute(f"SELECT DISTINCT source_key FROM events_unique WHERE event_id IN ({repeated})")
        assert kept.fetchall() == [("t/table/0.jsonl",)]  # the first delivery
    _the_catalog_describes_these_files(emulator, paths, tmp_path)
    # a re-run of the same objects overwrites its files: not one row more
    again, summaries_again = _run(emulator, items, "notification")
    assert sorted(f["key"] for o in summaries_again for f in o["curated"]) == sorted(
        f["key"] for o in summaries for f in o["curated"]
    )
    rerun = tmp_path / "rerun"
    _download(emulator, summaries_again, rerun)
    assert duckdb_query(f"SELECT count(*) FROM {_scan(rerun)}") == [(valid,)]
    assert again["records"]["written"] == valid


def _the_catalog_describes_these_files(emulator, paths: list[Path], root: Path) -> None:
    glue = emulator.client("glue")
    database = emulator.stack.outputs()["DatabaseName"]
    table = glue.get_table(DatabaseName=database, Name="events")["Table"]
    schema = pq.read_schema(paths[0])
    hive = {
        pa.string(): "string",
        pa.float64(): "double",
        pa.int64(): "bigint",
        ARROW_TYPES[Kind.TIMESTAMP]: "timestamp",
    }
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        (field.name, hive[field.type]) for field in schema
    ]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("dt", "string"), ("hour", "string")]
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true" and parameters["classification"] == "parquet"
    template = parameters["storage.location.template"]
    first, last = parameters["projection.dt.range"].split(",")
    for path in paths:  # each file is where the projection looks for its partition
        dt, hour = (part.split("=")[1] for part in path.relative_to(root).parts[2:4])
        location = template.replace("${dt}", dt).replace("${hour}", hour)
        assert f"s3://{emulator.pipeline_bucket}/{path.relative_to(root).as_posix()}".startswith(location)
        assert first <= dt and last.startswith("NOW") and 0 <= int(hour) <= 23
    view = glue.get_table(DatabaseName=database, Name="events_unique")["Table"]
    encoded = view["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    definition = json.loads(base64.b64decode(encoded))
    assert definition["originalSql"] == unique_view_sql(TABLE) and definition["schema"] == database
    assert [c["name"] for c in definition["columns"]] == TABLE.column_names()


# In a process of its own: one emulator per process, and the package's is named landfall-local.
STACK_IN_MIXED_CASE = """
import base64, json, os, sys
from pathlib import Path
from landfall_emulator.emulator import Emulator
from landfall_cli.main import main

if __name__ == "__main__":
    overrides = {"IngestBatchingWindowSeconds": "1"}
    logs, template = Path(sys.argv[1]), Path(sys.argv[2])
    named = {"stack_name": "Landfall-Prod", "log_dir": logs, "parameter_overrides": overrides}
    with Emulator(template=template, **named) as emulator:
        stack, glue, athena = emulator.stack, emulator.client("glue"), emulator.client("athena")
        outputs = stack.outputs()
        # CloudFormation's record of the stack, as `landfall query --stack` reads it
        template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                    "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
        emulator.client("cloudformation").create_stack(StackName=stack.name, TemplateBody=json.dumps(template))
        os.environ.update(AWS_ENDPOINT_URL=emulator.endpoint_url, AWS_ACCESS_KEY_ID="local",
                          AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION=stack.region)
        exit_code = main(["query", "--stack", stack.name, "SELECT count(*) FROM events_unique"])
        (query,) = athena.list_query_executions()["QueryExecutionIds"]
        view = glue.get_table(DatabaseName=outputs["DatabaseName"], Name=outputs["UniqueViewName"])["Table"]
        encoded = view["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
        policy = stack.resolve(stack.resources["CatalogTablesPolicy"]["Properties"]["PolicyDocument"])
        print(json.dumps({
            "query_exit_code": exit_code,
            "databases": [database["Name"] for database in glue.get_databases()["DatabaseList"]],
            "output": outputs["DatabaseName"],
            "view_schema": json.loads(base64.b64decode(encoded))["schema"],
            "policy": policy["Statement"][0]["Resource"][1:],
            "queried_in": athena.get_query_execution(QueryExecutionId=query)["QueryExecution"][
                "QueryExecutionContext"]["Database"],
        }))
"""


def test_a_stack_named_in_mixed_case_has_one_database_name_athena_takes_everywhere(tmp_path):
    script = tmp_path / "stack_in_mixed_case.py"
    script.write_text(STACK_IN_MIXED_CASE)
    done = subprocess.run(  # noqa: S603 - this interpreter, a script the test wrote
        [sys.executable, str(script), str(tmp_path / "logs"), str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    arn = "arn:aws:glue:us-east-1:123456789012"
    assert seen == {
        "query_exit_code": 0,
        "databases": ["landfall_prod"],
        "output": "landfall_prod",
        "view_schema": "landfall_prod",
        "policy": [f"{arn}:database/landfall_prod", f"{arn}:table/landfall_prod/*"],
        "queried_in": "landfall_prod",
    }
