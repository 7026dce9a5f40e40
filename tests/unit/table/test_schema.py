"""One declaration of a record: the table's columns, its Parquet schema, the catalog's, the local
engine's and the docs' column tables all come from the job's record type."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
import pytest

from examples.orders_job import OrdersJob
from landfall.commit.definition import ICEBERG_TYPES, iceberg_schema
from landfall.jobs.events import EventsJob
from landfall.table.catalog import quarantine_table_input
from landfall.table.partitioning import DAILY, HOURLY
from landfall.table.quarantine import QUARANTINE_TABLE
from landfall.table.schema import Kind, SchemaError, table_of, table_schema
from tests.paths import REPO_ROOT


class Everything(msgspec.Struct):
    text: str
    count: Annotated[int, msgspec.Meta(ge=0, description="how many")]
    ratio: float
    flag: bool
    at: Annotated[datetime, msgspec.Meta(tz=True)]
    wall: Annotated[datetime, msgspec.Meta(tz=False)]
    day: date
    kind: Literal["a", "b"]
    code: Literal[1, 2]
    blob: bytes
    ident: uuid.UUID
    amount: Decimal
    nested: dict[str, Any]
    items: list[int]
    raw: msgspec.Raw = msgspec.Raw()
    maybe: str | None = None
    either: int | str = 0


def test_each_field_type_becomes_a_column_of_its_kind_and_nullability():
    table = table_schema("things", Everything, HOURLY)
    kinds = {c.name: (c.kind, c.nullable) for c in table.record_columns}
    assert kinds == {
        "text": (Kind.STRING, False),
        "count": (Kind.INT, False),
        "ratio": (Kind.FLOAT, False),
        "flag": (Kind.BOOL, False),
        "at": (Kind.TIMESTAMP, False),
        "wall": (Kind.LOCAL_TIMESTAMP, False),
        "day": (Kind.DATE, False),
        "kind": (Kind.STRING, False),
        "code": (Kind.INT, False),
        "blob": (Kind.BINARY, False),
        "ident": (Kind.STRING, False),
        "amount": (Kind.STRING, False),
        "nested": (Kind.JSON, False),
        "items": (Kind.JSON, False),
        "raw": (Kind.JSON, True),
        "maybe": (Kind.STRING, True),
        "either": (Kind.JSON, True),
    }
    assert next(c for c in table.columns if c.name == "count").description == "how many"
    assert [c.name for c in table.columns[-4:]] == ["source_bucket", "source_key", "source_version_id", "source_line"]
    assert table.column_names() == [c.name for c in table.columns]  # Iceberg partitions by a transform: no column


def test_json_names_become_column_names_as_the_catalog_stores_them():
    class Renamed(msgspec.Struct, rename="camel"):
        user_name: str
        http_status: int = msgspec.field(name="HTTP-Status", default=0)

    assert [c.name for c in table_schema("r", Renamed).record_columns] == ["username", "http_status"]


def test_a_record_type_that_cannot_be_a_table_is_refused_with_the_reason():
    class Clash(msgspec.Struct):
        source_key: str

    with pytest.raises(SchemaError, match="source_key"):
        table_schema("clash", Clash)
    with pytest.raises(SchemaError, match="record key 'id'"):
        table_schema("nokey", Everything, key="id")
    with pytest.raises(SchemaError, match="table name"):
        table_schema("Bad-Name", Everything)
    with pytest.raises(SchemaError, match="msgspec.Struct"):
        table_schema("dict", dict)  # type: ignore[arg-type]


@pytest.mark.parametrize("job", [EventsJob(), OrdersJob()], ids=["events", "orders"])
def test_parquet_iceberg_and_local_types_all_come_from_the_record_type(job):
    table = table_of(job)
    arrow = table.arrow_schema
    iceberg = {field.field_id: field for field in iceberg_schema(table).fields}
    assert [c.name for c in table.columns] == arrow.names
    for column in table.columns:
        declared = iceberg[column.field_id]
        assert (declared.name, declared.field_type, declared.required) == (
            column.name,
            ICEBERG_TYPES[column.kind],
            not column.nullable,
        )
        assert arrow.field(column.name).nullable == column.nullable
        assert arrow.field(column.name).metadata == {b"PARQUET:field_id": str(column.field_id).encode()}
    assert table.key == job.record_key and table.name == job.name


def test_the_jobs_partitionings_and_keys_are_declared_once():
    assert (table_of(EventsJob()).partitioning, table_of(EventsJob()).unique_view) == (HOURLY, "events_unique")
    assert (table_of(OrdersJob()).partitioning, table_of(OrdersJob()).unique_view) == (DAILY, "orders_unique")
    assert EventsJob().partition_path(2026112213) == "dt=2026-11-22/hour=13"
    assert OrdersJob().partition_path(20261122) == "dt=2026-11-22"


def test_the_quarantine_table_is_declared_by_its_entry():
    table = quarantine_table_input(QUARANTINE_TABLE, "bucket")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        "run_id",
        "source_bucket",
        "source_key",
        "source_version_id",
        "line",
        "reason",
        "detail",
        "raw",
        "raw_base64",
        "raw_truncated",
    ]
    assert table["StorageDescriptor"]["Location"] == "s3://bucket/quarantine/"


# ---------------------------------------------------------------- the docs' column tables
@pytest.mark.parametrize(
    ("table", "page"),
    [(table_of(EventsJob()), "table.md"), (table_of(OrdersJob()), "jobs.md"), (QUARANTINE_TABLE, "table.md")],
    ids=["events", "orders", "quarantine"],
)
def test_the_docs_show_each_tables_columns_as_they_are_declared(table, page):
    docs = (REPO_ROOT / "docs" / page).read_text()
    shown = table.markdown().rstrip("\n") + "\n\n"  # the whole table: a row the declaration lacks fails too
    assert shown in docs, f"docs/{page}: paste `python -m landfall.jobs` for {table.name}"


@pytest.mark.parametrize(
    ("argv", "tables"),
    [
        ([], [table_of(EventsJob())]),
        (["examples.orders_job:OrdersJob", "quarantine"], [table_of(OrdersJob()), QUARANTINE_TABLE]),
    ],
    ids=["default job", "orders and quarantine"],
)
def test_python_m_landfall_jobs_prints_the_tables_the_docs_show(argv, tables):
    """`python -m landfall.jobs [spec ...]`, as docs/table.md has a job author run it."""
    done = subprocess.run(  # noqa: S603 - this interpreter, the library's own module
        [sys.executable, "-m", "landfall.jobs", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "".join(f"{table.markdown()}\n" for table in tables)
