"""The curated Iceberg table as its users read it, end to end on the emulator: two readers that are not
its writer (pyiceberg with its own catalog and S3 access, and DuckDB over the files it lists) agree
with the report per object and partition and see the declared types and field ids; the run is one
snapshot; the same objects run again add no row; the unique view removes the duplicates a producer's
retry planted across objects; Glue's entry is the table's metadata; a file a stopped batch left is
named in the report and read by no one."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.expressions import StartsWith

from landfall.commit.commits import run_snapshots
from landfall.core.layout import curated_key, report_key, run_data_prefix
from landfall.ingest.manifests import ManifestBuilder
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs.events import EventsJob
from landfall.jobs.samples import event_lines
from landfall.table.catalog import unique_view_sql
from landfall.table.schema import Kind, table_of
from landfall_cli.query import export_local, local_connection, table_metadata_location
from tests.integration.conftest import curated_files, execution_arn_of, object_summaries, read_json, start_run
from tests.paths import TEMPLATE_PATH
from tests.tables import duckdb_query

pytestmark = pytest.mark.emulator

TABLE = table_of(EventsJob())
OURS = StartsWith("source_key", "t/table/")  # this test's objects
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


def _run(emulator, items, source) -> tuple[dict, list[dict], list[dict]]:
    """The run's report, its objects' summaries and its batches' files."""
    started = start_run(emulator, items, CONFIG, source=source)
    assert emulator.wait_for_execution(execution_arn_of(emulator, started))["status"] == "SUCCEEDED"
    report = read_json(emulator, emulator.pipeline_bucket, report_key(started.run_id))
    assert report["reconciliation"]["ok"], report["reconciliation"]
    return report, object_summaries(emulator, started.run_id), curated_files(emulator, started.run_id)


def _download(emulator, files: list[dict], into: Path) -> list[Path]:
    s3 = emulator.client("s3")
    paths = []
    for file in files:
        path = into / file["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=emulator.pipeline_bucket, Key=file["key"])["Body"].read())
        paths.append(path)
    return paths


def _pyiceberg(emulator):
    """The table as another Iceberg reader opens it: pyiceberg's own Glue catalog and its pyarrow S3
    access (neither is what the pipeline commits with), pointed at the emulator."""
    from pyiceberg.catalog.glue import GlueCatalog

    endpoint, region = emulator.endpoint_url, emulator.stack.region
    keys = {"s3.access-key-id": "local", "s3.secret-access-key": "local", "s3.region": region}
    catalog = GlueCatalog(
        "reader",
        **{"glue.endpoint": endpoint, "glue.region": region, "glue.access-key-id": "local"},
        **{"glue.secret-access-key": "local", "s3.endpoint": endpoint, **keys},
    )
    return catalog.load_table(f"{emulator.stack.outputs()['DatabaseName']}.events")


def _duckdb_reads(paths: list[Path]) -> str:
    listed = ", ".join(f"'{path.as_posix()}'" for path in paths)
    return f"read_parquet([{listed}])"


def test_independent_readers_agree_with_the_report_the_declaration_and_the_catalog(emulator, tmp_path):
    """The table is the package's emulator's: other tests' runs commit to it too, so this one reads the
    rows of its own objects (`t/table/…`) and its own snapshot."""
    items, repeats = _land(emulator)
    crashed = _plant_a_crashed_batchs_file(emulator, items)
    report, summaries, files = _run(emulator, items, "backfill")
    assert report["orphaned_files"]["count"] == 1 and report["orphaned_files"]["keys"] == [crashed]
    valid, committed = report["records"]["valid"], report["table"]
    assert committed["rows"] == valid == report["records"]["written"] and committed["files"] == len(files)
    table = _pyiceberg(emulator)
    assert table.metadata_location == committed["metadata_location"]  # Glue's entry is the report's metadata
    (snapshot,) = run_snapshots(table, report["run_id"])  # one snapshot: the run's
    assert snapshot.snapshot_id == committed["snapshot_id"] and snapshot.summary["added-records"] == str(valid)
    arrow = table.scan(row_filter=OURS).to_arrow()
    assert arrow.num_rows == valid
    assert {f.name: f.field_id for f in table.schema().fields} == {c.name: c.field_id for c in TABLE.columns}
    assert [(f.name, f.type) for f in arrow.schema] == [(c.name, ARROW_TYPES[c.kind]) for c in TABLE.columns]
    expected = {(obj["key"], p, n) for obj in summaries for p, n in obj["rows_by_partition"].items()}
    per_object = {
        row["source_key"]: row["source_line_count"]
        for row in arrow.group_by("source_key").aggregate([("source_line", "count")]).to_pylist()
    }
    assert per_object == {key: sum(n for k, _, n in expected if k == key) for key, _, _ in expected}
    # DuckDB over the files Iceberg lists: rows per object and partition as the summaries say
    keys = [
        {"key": t.file.file_path.split("/", 3)[3]} for t in table.scan(snapshot_id=snapshot.snapshot_id).plan_files()
    ]
    ours = {k["key"] for k in keys if k["key"].startswith(run_data_prefix(TABLE.name, report["run_id"]))}
    assert ours == {f["key"] for f in files} and crashed not in ours  # a stopped batch's file is not read
    paths = _download(emulator, keys, tmp_path)
    counted = duckdb_query(
        f"SELECT source_key, strftime(ts, 'dt=%Y-%m-%d/hour=%H'), count(*) FROM {_duckdb_reads(paths)} "
        "WHERE source_key LIKE 't/table/%' GROUP BY ALL"
    )
    assert set(counted) == expected
    written_ids = duckdb_query(f"SELECT DISTINCT name, field_id FROM parquet_schema({_duckdb_reads(paths)[13:-1]})")
    assert {(n, i) for n, i in written_ids if i is not None} == {(c.name, c.field_id) for c in TABLE.columns}
    _the_catalog_describes_the_table(emulator, table)
    _the_local_query_sees_what_the_readers_see(emulator, tmp_path / "copy", valid, repeats)
    # the same objects processed again by another run: their rows are in the table once
    again, _, _ = _run(emulator, items, "notification")
    assert again["table"]["snapshot_id"] is None and again["table"]["duplicate_objects"] == len(items)
    assert _pyiceberg(emulator).scan(row_filter=OURS).to_arrow().num_rows == valid


def _plant_a_crashed_batchs_file(emulator, items: list[ManifestItem]) -> str:
    """A file under the run's data prefix that no batch's result names, as a batch that timed out after
    writing leaves it. The run's id follows from its objects, so the file is there before the run starts."""
    builder = ManifestBuilder(CONFIG)
    for item in sorted(items, key=lambda i: (i.bucket, i.key, i.version_id or "")):
        builder.add(item)
    key = curated_key(TABLE.name, builder.run_id("backfill"), "dt=2026-11-22/hour=13", "crashed")
    emulator.client("s3").put_object(Bucket=emulator.pipeline_bucket, Key=key, Body=b"PAR1 a stopped batch's PAR1")
    return key


def _the_local_query_sees_what_the_readers_see(emulator, root: Path, valid: int, repeats: int) -> None:
    """`landfall query --local`: the catalog's names, types and view over the table's copy."""
    location = table_metadata_location(emulator.client("glue"), emulator.stack.outputs()["DatabaseName"], "events")
    export_local(
        emulator.client("s3"), emulator.pipeline_bucket, TABLE, "landfall.jobs.events:EventsJob", root, location
    )
    with local_connection(TABLE, root) as connection:
        described = connection.execute('DESCRIBE "events"').fetchall()
        assert [(name, kind) for name, kind, *_ in described] == [(c.name, c.types.duckdb) for c in TABLE.columns]
        ours = "WHERE source_key LIKE 't/table/%'"  # the package's emulator: other tests' rows are there too
        assert connection.execute(f"SELECT count(*), count(DISTINCT event_id) FROM events {ours}").fetchone() == (
            valid,
            valid - repeats,
        )
        assert connection.execute(f"SELECT count(*) FROM events_unique {ours}").fetchone() == (valid - repeats,)
        repeated = f"SELECT event_id FROM events {ours} GROUP BY 1 HAVING count(*) > 1"
        kept = connection.execute(f"SELECT DISTINCT source_key FROM events_unique {ours} AND event_id IN ({repeated})")
        assert kept.fetchall() == [("t/table/0.jsonl",)]  # the first delivery


def _the_catalog_describes_the_table(emulator, table) -> None:
    glue = emulator.client("glue")
    database = emulator.stack.outputs()["DatabaseName"]
    entry = glue.get_table(DatabaseName=database, Name="events")["Table"]
    assert entry["Parameters"]["table_type"] == "ICEBERG"
    assert entry["Parameters"]["metadata_location"] == table.metadata_location
    assert [c["Name"] for c in entry["StorageDescriptor"]["Columns"]] == [f.name for f in table.schema().fields]
    assert [(f.source_id, str(f.transform)) for f in table.spec().fields] == [(6, "hour")]
    view = glue.get_table(DatabaseName=database, Name="events_unique")["Table"]
    encoded = view["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    definition = json.loads(base64.b64decode(encoded))
    assert definition["originalSql"] == unique_view_sql(TABLE, "ts") and definition["schema"] == database
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
