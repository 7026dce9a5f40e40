"""`landfall query`: Athena in the stack's workgroup (moto's Athena, which answers with given rows) and
DuckDB over a copy of the table, by the catalog's names; the rows as a table, CSV or JSON Lines, every
value whole, and nothing but the rows (or the report) on stdout."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import boto3
import pytest
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from rich.console import Console

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import commit_run
from landfall.commit.objects import run_files
from landfall.commit.tables import put_table
from landfall.ingest.messages import ManifestItem
from landfall.jobs import DEFAULT_JOB, default_job
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.table.schema import table_of
from landfall_cli.main import main
from landfall_cli.query import (
    QueryError,
    QueryResult,
    export_local,
    print_result,
    query_athena,
    query_local,
    write_csv,
    write_json_lines,
    write_result,
)
from tests.unit.reduce.test_reduction import BUCKET, RUN, batch_output, record
from tests.unit.reduce.test_report_contents import reduced, with_examples

EVENT = b'{"event_id":"%s","ts":"2026-11-22T1%d:00:00Z","type":"%s","value":%d}'


@pytest.fixture
def athena(aws):
    client = boto3.client("athena", region_name="us-east-1")
    client.create_work_group(Name="landfall", Configuration={"ResultConfiguration": {"OutputLocation": "s3://p/a/"}})
    return client


def answer(*rows: list[str | None], types: list[str] | None = None) -> None:
    """The rows moto's Athena gives the next query (the first is the header, as Athena sends it; a NULL
    is a cell without a value), and the columns' types (varchar unless given)."""
    backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    data = [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in rows]
    kinds = types or ["varchar"] * len(rows[0])
    columns = [{"Name": name, "Type": kind} for name, kind in zip(rows[0], kinds, strict=True)]
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
    result = query_athena(
        athena,
        "SELECT type, count(*) AS events FROM events_unique GROUP BY 1",
        "landfall",
        "landfall",
        waiting=seen.append,
    )
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
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="r", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key=key, size=1) for key in bodies],
    )
    summary = process_batch(event, s3, ProcessorSettings(), default_job())
    commit = _committed(s3, "r", run_files(summary.files, summary.objects))
    export_local(s3, "pipeline", table_of(default_job()), DEFAULT_JOB, tmp_path, commit.metadata_location)
    return tmp_path


def _committed(s3, run_id: str, files):
    """The batch's files committed to the table as the reducer does, on moto's Glue."""
    glue = boto3.client("glue", region_name="us-east-1")
    if not glue.get_databases()["DatabaseList"]:
        glue.create_database(DatabaseInput={"Name": "db"})
    catalog, table = TableCatalog(glue, s3), table_of(default_job())
    put_table(catalog, "db.events", table, "s3://pipeline/curated/events")
    return commit_run(catalog, "db.events", run_id, files, ("pipeline", table.partitioning))


def test_a_local_query_reads_the_copy_by_the_catalogs_names(table_copy):
    counts = query_local("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_unique)", table_copy)
    assert counts.rows == [(4, 3)]
    per_hour = query_local(
        "SELECT hour(ts) AS hour, sum(value) AS v FROM events_unique GROUP BY 1 ORDER BY 1", table_copy
    )
    assert (per_hour.columns, per_hour.rows) == (["hour", "v"], [(12, 5.0), (13, 2.0)])
    rejected = query_local("SELECT source_key, line, reason FROM quarantine", table_copy)
    assert rejected.rows == [("raw/a.gz", 3, "invalid_json")]
    # a line kept whole says so: false, not absent (which a JSON reader takes for NULL)
    assert query_local("SELECT count(*) FROM quarantine WHERE NOT raw_truncated", table_copy).rows == [(1,)]


def test_a_query_as_of_a_run_reads_the_table_as_that_run_left_it(s3, table_copy):
    s3.put_object(Bucket="landing", Key="raw/c.gz", Body=gzip.compress(EVENT % (b"d", 2, b"click", 8)))
    later = ProcessorEvent(
        BatchInput=BatchInput(run_id="r2", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key=key, size=1) for key in ("raw/b.gz", "raw/c.gz")],
    )
    summary = process_batch(later, s3, ProcessorSettings(), default_job())
    # raw/b.gz is in the table already, and its file holds raw/c.gz's row too: the file waits for another run
    commit = _committed(s3, "r2", run_files(summary.files, summary.objects))
    assert (commit.snapshot_id, len(commit.duplicates), len(commit.deferred)) == (None, 1, 1)
    alone = ProcessorEvent(
        BatchInput=BatchInput(run_id="r3", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key="raw/c.gz", size=1)],
    )
    summary = process_batch(alone, s3, ProcessorSettings(), default_job())
    commit = _committed(s3, "r3", run_files(summary.files, summary.objects))
    export_local(s3, "pipeline", table_of(default_job()), DEFAULT_JOB, table_copy, commit.metadata_location)
    assert query_local("SELECT count(*) FROM events", table_copy).rows == [(5,)]
    assert query_local("SELECT count(*) FROM events", table_copy, as_of="r").rows == [(4,)]
    with pytest.raises(QueryError, match="run nope committed no snapshot"):
        query_local("SELECT 1", table_copy, as_of="nope")


def test_landfall_query_as_of_a_run_on_the_command_line(table_copy, no_emulator, capsys):
    args = ["query", "--local", "--data", str(table_copy), "--format", "csv"]
    assert main([*args, "--as-of", "r", "SELECT count(*) AS n FROM events"]) == 0
    assert capsys.readouterr().out.splitlines() == ['"n"', '"4"']
    assert main([*args, "--as-of", "nope", "SELECT 1"]) == 1
    assert "run nope committed no snapshot" in capsys.readouterr().err


def test_a_copy_before_any_commit_is_an_empty_table(s3, tmp_path):
    s3.create_bucket(Bucket="pipeline")
    export_local(s3, "pipeline", table_of(default_job()), DEFAULT_JOB, tmp_path, None)
    assert query_local("SELECT count(*) FROM events", tmp_path).rows == [(0,)]


def test_a_local_query_without_a_copy_or_with_bad_sql_says_so(tmp_path, table_copy):
    with pytest.raises(QueryError, match="make demo"):
        query_local("SELECT 1", tmp_path / "nothing")
    with pytest.raises(QueryError, match="no_such_column"):
        query_local("SELECT no_such_column FROM events", table_copy)


# ---------------------------------------------------------------- output: CSV, JSON Lines, the table
TRICKY = QueryResult(
    ["text", "n", "note"],
    [('a, "quoted"\nsecond line', 1, "café ✓"), ("", None, "plain")],
)


def test_csv_quotes_commas_quotes_and_line_breaks_keeps_non_ascii_and_tells_null_from_empty():
    out = io.StringIO(newline="")
    write_csv(TRICKY, out)
    text = out.getvalue()
    assert text.startswith('"text","n","note"\r\n') and '"a, ""quoted""\nsecond line"' in text
    rows = list(csv.reader(io.StringIO(text, newline=""), quoting=csv.QUOTE_NOTNULL))
    assert rows == [["text", "n", "note"], ['a, "quoted"\nsecond line', "1", "café ✓"], ["", None, "plain"]]


TYPED = (
    "SELECT 3::BIGINT AS n, 2.5::DOUBLE AS x, 'nan'::DOUBLE AS nan, 1.50::DECIMAL(10, 2) AS d, true AS ok, "
    "DATE '2026-11-22' AS day, TIMESTAMP '2026-11-22 12:00:00.250' AS at, "
    "TIMESTAMPTZ '2026-11-22 13:00:00+01' AS zoned, 'hi'::BLOB AS raw, NULL::VARCHAR AS nothing, "
    "'café' AS word, {'a': [1, NULL]} AS s, 1 AS twice, 2 AS twice FROM events LIMIT 1"
)
TYPED_JSON = {
    "n": 3,
    "x": 2.5,
    "nan": "NaN",
    "d": "1.50",
    "ok": True,
    "day": "2026-11-22",
    "at": "2026-11-22T12:00:00.250000",
    "zoned": "2026-11-22T12:00:00+00:00",
    "raw": "aGk=",
    "nothing": None,
    "word": "café",
    "s": {"a": [1, None]},
    "twice": 1,
    "twice_2": 2,
}


def json_lines(result: QueryResult) -> list[dict]:
    out = io.StringIO()
    write_json_lines(result, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_keep_duckdbs_types(table_copy):
    (line,) = json_lines(query_local(TYPED, table_copy))
    assert line == TYPED_JSON
    assert [type(line[key]) for key in ("n", "x", "ok")] == [int, float, bool]


def test_athenas_text_is_typed_by_its_column_types_into_the_same_json_as_duckdbs(athena):
    names = list(TYPED_JSON)
    types = [
        "bigint",
        "double",
        "double",
        "decimal",
        "boolean",
        "date",
        "timestamp",
        "timestamp with time zone",
        "varbinary",
        "varchar",
        "varchar",
        "json",
        "integer",
        "integer",
    ]
    values = [
        "3",
        "2.5",
        "NaN",
        "1.50",
        "true",
        "2026-11-22",
        "2026-11-22 12:00:00.250",
        "2026-11-22 12:00:00.000 UTC",
        "68 69",
        None,
        "café",
        '{"a": [1, null]}',
        "1",
        "2",
    ]
    answer(names[:-1] + ["twice"], values, types=types)
    result = query_athena(athena, "SELECT …", "landfall", "landfall")
    assert json_lines(result) == [TYPED_JSON]


def test_athenas_text_that_does_not_parse_as_its_type_is_kept_whole(athena):
    answer(["a", "b"], ["[1, 2]", "not a number"], types=["array(integer)", "bigint"])
    assert query_athena(athena, "SELECT …", "landfall", "landfall").rows == [("[1, 2]", "not a number")]


LONG = "raw/2026/11/22/12/landfall-stream-1-2026-11-22-12-00-00-" + "0123456789abcdef" * 4 + ".gz"
WIDE = QueryResult(["source_key", "line", "reason"], [(LONG, 3, "invalid_json"), ("raw/b.gz", None, "[b]x[/b]")])


def terminal(width: int = 60) -> Console:
    return Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)


def table_cells(rendered: str) -> list[list[str]]:
    """The body's rows of a rendered table, each cell's folded lines joined again."""
    rows, current = [], None
    for line in rendered.splitlines() + [""]:
        if line.startswith("│"):
            parts = [part.strip() for part in line.strip("│").split("│")]
            current = [a + b for a, b in zip(current or [""] * len(parts), parts, strict=True)]
        elif current is not None:
            rows, current = [*rows, current], None
    return rows


def test_a_wide_table_in_a_narrow_terminal_folds_its_cells_and_shows_every_value_whole():
    console = terminal()
    print_result(console, WIDE)
    rendered = console.file.getvalue()
    assert "…" not in rendered and max(len(line) for line in rendered.splitlines()) <= 60
    assert table_cells(rendered) == [[LONG, "3", "invalid_json"], ["raw/b.gz", "NULL", "[b]x[/b]"]]


def test_piped_the_table_is_as_wide_as_its_values():
    console = Console(width=60, file=io.StringIO())
    print_result(console, WIDE)
    rendered = console.file.getvalue()
    assert "…" not in rendered and any(f"│ {LONG} │" in line for line in rendered.splitlines())


def test_too_many_columns_for_a_table_come_one_block_per_row():
    columns = [f"column_{number}" for number in range(12)]
    result = QueryResult(columns, [tuple(f"value-{row}-{number}" for number in range(12)) for row in (1, 2)])
    console = terminal()
    print_result(console, result)
    rendered = console.file.getvalue()
    assert "…" not in rendered and "one block per row" in rendered and "row 2 of 2" in rendered
    lines = [line.split() for line in rendered.splitlines()]
    assert all([f"column_{number}", f"value-{row}-{number}"] in lines for row in (1, 2) for number in range(12))


# ---------------------------------------------------------------- the commands: stdout is the output
@pytest.fixture
def no_emulator(monkeypatch, tmp_path):
    """--local finds no running emulator: the query reads the copy as it is."""
    monkeypatch.setenv("LANDFALL_LOCAL_STATE", str(tmp_path / "no-emulator.json"))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_landfall_query_writes_the_rows_alone_on_stdout(table_copy, no_emulator, capsys, fmt):
    sql = "SELECT event_id, value, 'a, \"b\"' AS note FROM events_unique ORDER BY event_id"
    assert main(["query", "--local", "--data", str(table_copy), "--format", fmt, sql]) == 0
    out, rows = capsys.readouterr().out, [("a", 1.0), ("b", 2.0), ("c", 4.0)]
    if fmt == "csv":
        expected = [["event_id", "value", "note"]] + [[event, str(value), 'a, "b"'] for event, value in rows]
        assert list(csv.reader(io.StringIO(out, newline=""))) == expected
    else:
        expected_lines = [{"event_id": event, "value": value, "note": 'a, "b"'} for event, value in rows]
        assert [json.loads(line) for line in out.splitlines()] == expected_lines


def test_what_athena_scanned_goes_to_stderr(capsys):
    write_result(QueryResult(["n"], [(1,)], scanned_bytes=2_000_000), "json")
    captured = capsys.readouterr()
    assert captured.out == '{"n": 1}\n' and "1 row; Athena scanned 2.0 MB" in captured.err


def test_a_failed_query_says_why_on_stderr_and_leaves_stdout_empty(table_copy, no_emulator, capsys):
    assert main(["query", "--local", "--data", str(table_copy), "--format", "json", "SELECT nope FROM events"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "nope" in captured.err


def test_report_json_with_a_timeline_writes_the_json_alone_on_stdout(s3, monkeypatch, tmp_path, capsys):
    s3.create_bucket(Bucket=BUCKET)
    a = with_examples("raw/a", 3, {})
    reduced(s3, [record("SUCCEEDED", ["raw/a"], batch_output(a))], ["raw/a"])
    monkeypatch.setattr("landfall_cli.commands._target", lambda args: SimpleNamespace(s3=s3, pipeline_bucket=BUCKET))
    assert main(["report", RUN, "--local", "--json", "--timeline", str(tmp_path / "svg")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run_id"] == RUN
    path = tmp_path / "svg" / f"{RUN}-timeline.svg"
    assert path.read_text().startswith("<svg") and f"the timeline: {path}" in captured.err


def test_a_reader_that_stops_early_ends_the_command_quietly(table_copy, tmp_path):
    """`landfall query … | head -1`: the pipe closes under the writer; no traceback, SIGPIPE's status."""
    env = {**os.environ, "LANDFALL_LOCAL_STATE": str(tmp_path / "no-emulator.json")}
    sql = "SELECT range AS n FROM range(200000)"
    command = [sys.executable, "-m", "landfall_cli.main", "query", "--local", "--data", str(table_copy)]
    process = subprocess.Popen(
        [*command, "--format", "json", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline()) == {"n": 0}
    process.stdout.close()
    _, said = process.communicate(timeout=120)
    assert process.returncode == 141 and said == b"", said.decode()
