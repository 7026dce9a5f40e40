"""`landfall query`: Athena in the stack's workgroup (moto's Athena, which answers with given rows) and
DuckDB over a copy of the table, by the catalog's names."""

from __future__ import annotations

import gzip

import boto3
import pytest
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from landfall.jobs import DEFAULT_JOB, default_job
from landfall.models import BatchInput, ManifestItem, ProcessorEvent
from landfall.processing import process_batch
from landfall.schema import table_of
from landfall.settings import ProcessorSettings
from landfall_cli.query import QueryError, export_local, query_athena, query_local

EVENT = b'{"event_id":"%s","ts":"2026-11-22T1%d:00:00Z","type":"%s","value":%d}'


@pytest.fixture
def athena(aws):
    client = boto3.client("athena", region_name="us-east-1")
    client.create_work_group(Name="landfall", Configuration={"ResultConfiguration": {"OutputLocation": "s3://p/a/"}})
    return client


def answer(*rows: list[str]) -> None:
    """The rows moto's Athena gives the next query (the first is the header, as Athena sends it)."""
    backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    data = [{"Data": [{"VarCharValue": value} for value in row]} for row in rows]
    columns = [{"Name": name, "Type": "varchar"} for name in rows[0]]
    backend.query_results_queue.append(QueryResults(rows=data, column_info=columns))


def test_an_athena_query_runs_in_the_workgroup_and_its_rows_come_back_without_the_header(athena, monkeypatch):
    answer(["type", "events"], ["click", "3"], ["search", "1"])
    states = iter(["QUEUED", "RUNNING"])
    real = athena.get_query_execution

    def polled(**kwargs):  # two polls before it ends, as a real query would
        described = real(**kwargs)
        state = next(states, None)
        if state:
            described["QueryExecution"]["Status"]["State"] = state
        return described

    monkeypatch.setattr(athena, "get_query_execution", polled)
    monkeypatch.setattr("landfall_cli.query.ATHENA_POLL_S", 0)
    seen: list[str] = []
    result = query_athena(athena, "SELECT type, count(*) AS events FROM events_unique GROUP BY 1", "landfall",
                          "landfall", waiting=seen.append)  # fmt: skip
    assert (result.columns, result.rows) == (["type", "events"], [("click", "3"), ("search", "1")])
    assert seen == ["QUEUED", "RUNNING"]
    (execution,) = athena.list_query_executions(WorkGroup="landfall")["QueryExecutionIds"]
    described = real(QueryExecutionId=execution)["QueryExecution"]
    assert described["QueryExecutionContext"]["Database"] == "landfall" and described["WorkGroup"] == "landfall"


def test_a_failed_athena_query_says_why(athena, monkeypatch):
    real = athena.get_query_execution

    def failed(**kwargs):
        described = real(**kwargs)
        described["QueryExecution"]["Status"] |= {"State": "FAILED", "StateChangeReason": "COLUMN_NOT_FOUND: x"}
        return described

    monkeypatch.setattr(athena, "get_query_execution", failed)
    with pytest.raises(QueryError, match="COLUMN_NOT_FOUND"):
        query_athena(athena, "SELECT x FROM events", "landfall", "landfall")


@pytest.fixture
def table_copy(s3, tmp_path):
    """What the processor wrote for two objects (one repeats a record of the other), copied out."""
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    bodies = {
        "raw/a.gz": [EVENT % (b"a", 2, b"click", 1), EVENT % (b"b", 3, b"search", 2), b"{bad"],
        "raw/b.gz": [EVENT % (b"a", 2, b"click", 1), EVENT % (b"c", 2, b"click", 4)],
    }
    for key, lines in bodies.items():
        s3.put_object(Bucket="landing", Key=key, Body=gzip.compress(b"\n".join(lines)))
    event = ProcessorEvent(BatchInput=BatchInput(run_id="r", output_bucket="pipeline"),
                           Items=[ManifestItem(bucket="landing", key=key, size=1) for key in bodies])  # fmt: skip
    process_batch(event, s3, ProcessorSettings(), default_job())
    export_local(s3, "pipeline", table_of(default_job()), DEFAULT_JOB, tmp_path)
    return tmp_path


def test_a_local_query_reads_the_copy_by_the_catalogs_names(table_copy):
    counts = query_local("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_unique)", table_copy)
    assert counts.rows == [(4, 3)]
    per_hour = query_local("SELECT hour, sum(value) AS v FROM events_unique GROUP BY hour ORDER BY hour", table_copy)
    assert (per_hour.columns, per_hour.rows) == (["hour", "v"], [("12", 5.0), ("13", 2.0)])
    rejected = query_local("SELECT source_key, line, reason FROM quarantine", table_copy)
    assert rejected.rows == [("raw/a.gz", 3, "invalid_json")]
    # a line kept whole says so: false, not absent (which a JSON reader takes for NULL)
    assert query_local("SELECT count(*) FROM quarantine WHERE NOT raw_truncated", table_copy).rows == [(1,)]


def test_a_local_copy_drops_files_the_bucket_no_longer_has(s3, table_copy):
    s3.delete_object(Bucket="pipeline", Key=next(
        o["Key"] for o in s3.list_objects_v2(Bucket="pipeline", Prefix="curated/")["Contents"]
    ))  # fmt: skip
    export_local(s3, "pipeline", table_of(default_job()), DEFAULT_JOB, table_copy)
    assert query_local("SELECT count(*) FROM events", table_copy).rows[0][0] < 4


def test_a_local_query_without_a_copy_or_with_bad_sql_says_so(tmp_path, table_copy):
    with pytest.raises(QueryError, match="make demo"):
        query_local("SELECT 1", tmp_path / "nothing")
    with pytest.raises(QueryError, match="no_such_column"):
        query_local("SELECT no_such_column FROM events", table_copy)
