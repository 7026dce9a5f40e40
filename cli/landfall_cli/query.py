"""`landfall query`: SQL over the curated table, by the names the catalog gives it.

On AWS the query runs on Athena in the stack's workgroup and database. Locally it runs on DuckDB
over a copy of the emulator's Parquet files (hive partitioning), with the same table, view and
quarantine names, the same view text and the same column types, so a query tried locally runs on
Athena as written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landfall.catalog import unique_view_sql
from landfall.jobs import load_job
from landfall.layout import QUARANTINE_PREFIX, curated_prefix
from landfall.quarantine import QUARANTINE_TABLE
from landfall.schema import TableSchema, table_of
from landfall_cli.options import LOCAL_DATA

DESCRIPTION = "landfall.json"  # in that folder: which job made the table
ATHENA_POLL_S = 0.5


class QueryError(RuntimeError):
    """The query failed (its engine's message), or found no table to query."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    scanned_bytes: int | None = None  # Athena's figure (what it bills)


# ---------------------------------------------------------------- local: DuckDB over a folder
def export_local(s3, bucket: str, table: TableSchema, job_spec: str, into: Path) -> int:
    """Copy the table's files and the quarantine from the emulator's bucket into `into` (what was
    copied before and is gone now is removed); returns the number of files."""
    copied = 0
    for prefix in (curated_prefix(table.name), QUARANTINE_PREFIX):
        keys = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                keys.add(entry["Key"])
                path = into / entry["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
        stale = [p for p in (into / prefix).rglob("*") if p.is_file() and p.relative_to(into).as_posix() not in keys]
        for path in stale:
            path.unlink()
        copied += len(keys)
    (into / DESCRIPTION).write_text(json.dumps({"job": job_spec, "bucket": bucket}, indent=2) + "\n")
    return copied


def local_job_spec(root: Path) -> str:
    try:
        return str(json.loads((root / DESCRIPTION).read_text())["job"])
    except FileNotFoundError:
        raise QueryError(f"no table copy in {root}: run `make demo` (or landfall demo) first") from None


def _empty_relation(table: TableSchema) -> str:
    """A relation with the table's columns and no row (a table without files yet)."""
    columns = [f'NULL::{c.types.duckdb} AS "{c.name}"' for c in table.columns]
    columns += [f'NULL::VARCHAR AS "{p.name}"' for p in table.partition_columns]
    return f"SELECT {', '.join(columns)} WHERE false"  # noqa: S608 - names and types from the declaration


def _files(folder: Path, pattern: str) -> str:
    """A glob as an SQL string literal."""
    return "'" + f"{folder.as_posix()}/{pattern}".replace("'", "''") + "'"


def _curated_relation(table: TableSchema, root: Path) -> str:
    folder = root / curated_prefix(table.name)
    if not any(folder.rglob("*.parquet")):
        return _empty_relation(table)
    hive_types = ", ".join(f"'{p.name}': 'VARCHAR'" for p in table.partition_columns)  # strings, as in Glue
    files = _files(folder, "**/*.parquet")
    return f"SELECT * FROM read_parquet({files}, hive_partitioning = true, hive_types = {{{hive_types}}})"  # noqa: S608 - names from the declaration, the path quoted


def _quarantine_relation(root: Path) -> str:
    folder = root / QUARANTINE_PREFIX
    if not any(folder.rglob("*.jsonl")):
        return _empty_relation(QUARANTINE_TABLE)
    columns = ", ".join(f"'{c.name}': '{c.types.duckdb}'" for c in QUARANTINE_TABLE.columns)
    files = _files(folder, "**/*.jsonl")
    return f"SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {{{columns}}})"  # noqa: S608 - as above


def local_connection(table: TableSchema, root: Path):
    """A DuckDB connection where the catalog's names are views over the files under `root`."""
    import duckdb  # a CLI dependency, never in the Lambda layer

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # timestamps read and print in UTC, as Athena's do
    connection.execute(f'CREATE VIEW "{table.name}" AS {_curated_relation(table, root)}')
    if table.unique_view:
        connection.execute(f'CREATE VIEW "{table.unique_view}" AS {unique_view_sql(table)}')
    connection.execute(f'CREATE VIEW "{QUARANTINE_TABLE.name}" AS {_quarantine_relation(root)}')
    return connection


def query_local(sql: str, root: Path = LOCAL_DATA) -> QueryResult:
    import duckdb

    table = table_of(load_job(local_job_spec(root)))
    with local_connection(table, root) as connection:
        try:
            cursor = connection.execute(sql)
        except duckdb.Error as error:
            raise QueryError(str(error)) from None
        columns = [d[0] for d in cursor.description or []]
        return QueryResult(columns, cursor.fetchall())


# ---------------------------------------------------------------- AWS: Athena in the stack's workgroup
def query_athena(
    athena, sql: str, database: str, workgroup: str, waiting: Callable[[str], None] = lambda _: None
) -> QueryResult:
    """Start the query, wait for it (calling `waiting(state)` at every poll), and read every row."""
    started = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database}, WorkGroup=workgroup
    )["QueryExecutionId"]
    while True:
        execution = athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]
        state = execution["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        waiting(state)
        time.sleep(ATHENA_POLL_S)
    if state != "SUCCEEDED":
        raise QueryError(f"Athena {state.lower()}: {execution['Status'].get('StateChangeReason', '')}")
    return _athena_rows(athena, started, execution.get("Statistics", {}).get("DataScannedInBytes"))


def _athena_rows(athena, execution_id: str, scanned: int | None) -> QueryResult:
    result = QueryResult(columns=[], scanned_bytes=scanned)
    first = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        if first:
            result.columns = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        rows = page["ResultSet"]["Rows"]
        if first and rows and [d.get("VarCharValue") for d in rows[0]["Data"]] == result.columns:
            rows = rows[1:]  # a SELECT's first row repeats the column names
        result.rows += [tuple(d.get("VarCharValue") for d in row["Data"]) for row in rows]
        first = False
    return result


def print_result(console, result: QueryResult, title: str | None = None) -> None:
    """The rows as a table (values as the engine gives them), and what Athena scanned."""
    from rich.table import Table

    table = Table(title=title)
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)
    if result.scanned_bytes is not None:
        console.print(f"{len(result.rows)} rows; Athena scanned {result.scanned_bytes / 1e6:.1f} MB")
