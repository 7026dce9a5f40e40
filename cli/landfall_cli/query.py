"""`landfall query`: SQL over the curated table, by the names the catalog gives it.

On AWS the query runs on Athena in the stack's workgroup and database. Locally it runs on DuckDB
over a copy of the emulator's bucket, made an Iceberg table of its own (`iceberg_copy`): the live data
files its metadata lists (the current snapshot, or the one a run committed), with the same table, view
and quarantine names, the same view text and the same column types, so a query tried locally runs on
Athena as written.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from landfall.core.layout import QUARANTINE_PREFIX, curated_prefix
from landfall.jobs import load_job
from landfall.table.catalog import unique_view_sql
from landfall.table.quarantine import QUARANTINE_TABLE
from landfall.table.schema import TableSchema, table_of

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client

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
def export_local(
    s3: S3Client, bucket: str, table: TableSchema, job_spec: str, into: Path, metadata_location: str | None = None
) -> int:
    """Copy the table's files (data and Iceberg metadata) and the quarantine from the emulator's bucket
    into `into` (what was copied before and is gone now is removed), and make the table's copy, from the
    metadata the catalog points to, an Iceberg table naming local files; returns the number of files."""
    from landfall_cli.iceberg_copy import localise

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
    local = localise(into, bucket, metadata_location) if metadata_location else None
    description = {"job": job_spec, "bucket": bucket, "metadata_location": str(local) if local else None}
    (into / DESCRIPTION).write_text(json.dumps(description, indent=2) + "\n")
    return copied


def table_metadata_location(glue: GlueClient, database: str, table: str) -> str | None:
    """Where the catalog says the table's current metadata is (None: no such table)."""
    try:
        entry = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None
    return entry.get("Parameters", {}).get("metadata_location")


def _description(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / DESCRIPTION).read_text()))
    except FileNotFoundError:
        raise QueryError(f"no table copy in {root}: run `make demo` (or landfall demo) first") from None


def local_job_spec(root: Path) -> str:
    return str(_description(root)["job"])


def _empty_relation(table: TableSchema) -> str:
    """A relation with the table's columns and no row (a table without files yet)."""
    columns = [f'NULL::{c.types.duckdb} AS "{c.name}"' for c in table.columns]
    return f"SELECT {', '.join(columns)} WHERE false"  # noqa: S608 - names and types from the declaration


def _files(folder: Path, pattern: str) -> str:
    """A glob as an SQL string literal."""
    return "'" + f"{folder.as_posix()}/{pattern}".replace("'", "''") + "'"


def _curated_relation(table: TableSchema, root: Path, as_of: str | None) -> str:
    """The table's rows as its current snapshot (or run `as_of`'s) holds them: its live files, read by
    name (a file from before a column was added has none: NULL)."""
    from landfall_cli.iceberg_copy import CopyError, live_files

    location = _description(root).get("metadata_location")
    if not location:
        if as_of is not None:
            raise QueryError("the copy has no Iceberg table: no run has committed yet")
        return _empty_relation(table)
    try:
        files = live_files(Path(location), as_of)
    except CopyError as error:
        raise QueryError(str(error)) from None
    if not files:
        return _empty_relation(table)
    listed = ", ".join("'" + path.as_posix().replace("'", "''") + "'" for path in files)
    names = ", ".join(f'"{name}"' for name in table.column_names())
    return f"SELECT {names} FROM read_parquet([{listed}], union_by_name = true)"  # noqa: S608 - names from the declaration, paths quoted


def _quarantine_relation(root: Path) -> str:
    folder = root / QUARANTINE_PREFIX
    if not any(folder.rglob("*.jsonl")):
        return _empty_relation(QUARANTINE_TABLE)
    columns = ", ".join(f"'{c.name}': '{c.types.duckdb}'" for c in QUARANTINE_TABLE.columns)
    files = _files(folder, "**/*.jsonl")
    return f"SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {{{columns}}})"  # noqa: S608 - as above


def local_connection(table: TableSchema, root: Path, as_of: str | None = None):
    """A DuckDB connection where the catalog's names are views over the files under `root` (the table as
    run `as_of` left it, if given)."""
    import duckdb  # a CLI dependency, never in the Lambda layer

    from landfall.commit.definition import time_column

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # timestamps read and print in UTC, as Athena's do
    connection.execute(f'CREATE VIEW "{table.name}" AS {_curated_relation(table, root, as_of)}')
    if table.unique_view:
        stamp = time_column(table).name if table.partitioning is not None else None
        connection.execute(f'CREATE VIEW "{table.unique_view}" AS {unique_view_sql(table, stamp)}')
    connection.execute(f'CREATE VIEW "{QUARANTINE_TABLE.name}" AS {_quarantine_relation(root)}')
    return connection


def query_local(sql: str, root: Path, as_of: str | None = None) -> QueryResult:
    import duckdb

    table = table_of(load_job(local_job_spec(root)))
    with local_connection(table, root, as_of) as connection:
        try:
            cursor = connection.execute(sql)
        except duckdb.Error as error:
            raise QueryError(str(error)) from None
        columns = [d[0] for d in cursor.description or []]
        return QueryResult(columns, cursor.fetchall())


# ---------------------------------------------------------------- AWS: Athena in the stack's workgroup
def query_athena(
    athena: AthenaClient, sql: str, database: str, workgroup: str, waiting: Callable[[str], None] = lambda _: None
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


def _athena_rows(athena: AthenaClient, execution_id: str, scanned: int | None) -> QueryResult:
    result = QueryResult(columns=[], scanned_bytes=scanned)
    types: list[str] = []  # Athena's type names, by which its text becomes typed values
    first = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        if first:
            described = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            result.columns, types = [c["Name"] for c in described], [c.get("Type", "varchar") for c in described]
        rows = page["ResultSet"]["Rows"]
        if first and rows and [d.get("VarCharValue") for d in rows[0]["Data"]] == result.columns:
            rows = rows[1:]  # a SELECT's first row repeats the column names
        result.rows += [
            tuple(_athena_value(d.get("VarCharValue"), t) for d, t in zip(row["Data"], types, strict=True))
            for row in rows
        ]
        first = False
    return result


def _zoned(text: str) -> dt.datetime:
    """`2026-11-22 12:00:00.000 UTC` (or `… +01:00`, `… Europe/Paris`), as Athena writes a zoned time."""
    from zoneinfo import ZoneInfo

    stamp, _, zone = text.rpartition(" ")
    if zone[:1] in ("+", "-"):
        return dt.datetime.fromisoformat(stamp + zone)
    return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC if zone == "UTC" else ZoneInfo(zone))


_FROM_ATHENA: dict[str, Callable[[str], Any]] = {
    "boolean": {"true": True, "false": False}.__getitem__,
    **dict.fromkeys(("tinyint", "smallint", "integer", "int", "bigint"), int),
    **dict.fromkeys(("double", "float", "real"), float),
    "decimal": Decimal,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "timestamp with time zone": _zoned,
    "varbinary": bytes.fromhex,  # Athena writes bytes as hex pairs, space-separated
    "json": json.loads,
}


def _athena_value(text: str | None, type_name: str) -> Any:
    """Athena's text of a value as the Python value DuckDB gives for its type, so that both engines' rows
    go through the same writers. Arrays, maps and rows stay Athena's text (`CAST(x AS JSON)` gives JSON)."""
    convert = _FROM_ATHENA.get(type_name.lower().split("(")[0].strip())
    if text is None or convert is None:
        return text
    try:
        return convert(text)
    except (ValueError, ArithmeticError, KeyError):  # a form this reader does not know: Athena's text, whole
        return text


# ---------------------------------------------------------------- output: a table, CSV or JSON Lines
FORMATS = ("table", "csv", "json")
MIN_COLUMN = 10  # a column folded narrower than this is unreadable: one block per row instead


def json_value(value: Any) -> Any:
    """A value as the JSON writer gives it: numbers as numbers (NaN and ±Infinity as the strings "NaN",
    "Infinity", "-Infinity"), decimals as strings (exact: most readers take a JSON number for a double),
    dates and times in ISO 8601, intervals as ISO durations, bytes in base64, lists and structs as
    arrays and objects."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"  # never 1E+2
    if isinstance(value, dt.date | dt.time):  # a datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        sign, value = ("-", -value) if value < dt.timedelta(0) else ("", value)
        seconds = f"{value.seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
        return f"{sign}P{value.days}DT{seconds}S"
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return str(value)  # a UUID, and whatever else an engine returns


def text_value(value: Any) -> str:
    """A value as CSV and the table show it: the JSON writer's value, as text (NULL: empty)."""
    if value is None:
        return ""
    shown = json_value(value)
    return shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False, allow_nan=False)


def unique_names(columns: list[str]) -> list[str]:
    """JSON keys: a name given twice (`SELECT 1 AS a, 2 AS a`) becomes a, a_2 rather than one key."""
    names: list[str] = []
    for column in columns:
        name, number = column, 1
        while name in names:
            number += 1
            name = f"{column}_{number}"
        names.append(name)
    return names


def write_csv(result: QueryResult, out: TextIO) -> None:
    """A header and the rows, RFC 4180: CRLF line ends, every value quoted (quotes doubled) but NULL,
    which is an empty field, so NULL and '' differ (as in Athena's own result files)."""
    writer = csv.writer(out, quoting=csv.QUOTE_NOTNULL)
    writer.writerow(result.columns)
    writer.writerows([None if value is None else text_value(value) for value in row] for row in result.rows)


def write_json_lines(result: QueryResult, out: TextIO) -> None:
    """One object per row, keyed by the column names (see `unique_names`), valued by `json_value`."""
    names = unique_names(result.columns)
    for row in result.rows:
        line = dict(zip(names, (json_value(value) for value in row), strict=True))
        out.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")


def write_result(result: QueryResult, fmt: str, out: TextIO | None = None) -> None:
    """CSV or JSON Lines on `out` (stdout, as UTF-8 whatever the locale says): the rows and nothing else;
    what Athena scanned goes to stderr."""
    if out is None:
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(encoding="utf-8")
        out = sys.stdout
    {"csv": write_csv, "json": write_json_lines}[fmt](result, out)
    out.flush()
    if result.scanned_bytes is not None:
        print(_scanned(result), file=sys.stderr)


def _scanned(result: QueryResult) -> str:
    rows = len(result.rows)
    return f"{rows} row{'' if rows == 1 else 's'}; Athena scanned {(result.scanned_bytes or 0) / 1e6:.1f} MB"


def _cell(value: Any):
    from rich.text import Text  # the CLI's, loaded when a table is printed

    return Text("NULL", style="dim italic") if value is None else Text(text_value(value))  # never markup


def _widths(result: QueryResult, cells: list[list[Any]]) -> list[int]:
    """Each column's width when nothing is folded: its widest line, header included."""
    from rich.cells import cell_len

    widths = [max((cell_len(line) for line in column.split("\n")), default=0) for column in result.columns]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], *(cell_len(line) for line in cell.plain.split("\n")))
    return widths


def _table(result: QueryResult, cells: list[list[Any]], title: str | None, lines: bool):
    """Every cell folds rather than ending in "…"; `lines` between rows tells folded rows apart."""
    from rich.table import Table

    table = Table(title=title, show_lines=lines)
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*row)
    return table


def _records(result: QueryResult, cells: list[list[Any]], title: str | None):
    """One block per row, a column per line (psql's \\x): for results too wide for any table."""
    from rich.console import Group, RenderableType
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    note = f"{len(result.columns)} columns do not fit: one block per row (--format csv or json for files)"
    parts: list[RenderableType] = [Text(title, style="bold")] if title else []
    parts.append(Text(note, style="dim"))
    for number, row in enumerate(cells, 1):
        block = Table.grid(padding=(0, 1))
        block.add_column(style="bold", overflow="fold")
        block.add_column(overflow="fold")
        for name, cell in zip(result.columns, row, strict=True):
            block.add_row(Text(name), cell)
        parts += [Rule(f"row {number} of {len(cells)}", align="left", style="dim"), block]
    return Group(*parts)


def print_result(console, result: QueryResult, title: str | None = None) -> None:
    """The rows as a table, every value whole: in a terminal, wide cells fold (and rows get lines
    between them), and a result with too many columns for any table comes one block per row; piped,
    the table is as wide as its widest values. Then what Athena scanned."""
    from rich.console import Console

    cells = [[_cell(value) for value in row] for row in result.rows]
    widths = _widths(result, cells)
    natural = sum(widths) + 3 * len(widths) + 1  # cells, their padding and the borders
    if not console.is_terminal:
        console = Console(file=console.file, width=max(natural, console.width))
    if cells and sum(min(width, MIN_COLUMN) for width in widths) + 3 * len(widths) + 1 > console.width:
        console.print(_records(result, cells, title))
    else:
        folded = natural > console.width or any("\n" in cell.plain for row in cells for cell in row)
        console.print(_table(result, cells, title, lines=folded))
    if result.scanned_bytes is not None:
        console.print(_scanned(result))
