"""A table's columns, from the one declaration of its record type.

The job's record type (a msgspec Struct) is the single source of truth: the processor validates
records with it, and this module derives from it the Parquet schema the processor writes, the
catalog's columns (`catalog.py`), the local query engine's types (`landfall query --local`) and the
README's column table (`python -m landfall.jobs`). A test fails if any of them drift apart.

Each field becomes a column named as the JSON names it (lowercase, as the catalog stores names), of
one `Kind`; optional fields are nullable; nested values (objects, arrays, `msgspec.Raw`) are kept as
JSON text. Curated tables add lineage columns: where each row came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache, cached_property
from typing import Protocol

import msgspec
import msgspec.inspect as mi
from arro3.core import DataType, Field, Schema

from landfall.table.partitioning import PartitionColumn, Partitioning


class Kind(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # an instant, stored in UTC
    LOCAL_TIMESTAMP = "local_timestamp"  # a wall-clock time without an offset
    DATE = "date"
    JSON = "json"  # nested values, as JSON text
    BINARY = "binary"


@dataclass(frozen=True)
class KindTypes:
    arrow: DataType
    hive: str  # the catalog's (Glue, Athena DDL) type
    trino: str  # Athena's query type, as a view's definition names it
    duckdb: str  # the local engine's type


KIND_TYPES: dict[Kind, KindTypes] = {
    Kind.STRING: KindTypes(DataType.string(), "string", "varchar", "VARCHAR"),
    Kind.INT: KindTypes(DataType.int64(), "bigint", "bigint", "BIGINT"),
    Kind.FLOAT: KindTypes(DataType.float64(), "double", "double", "DOUBLE"),
    Kind.BOOL: KindTypes(DataType.bool(), "boolean", "boolean", "BOOLEAN"),
    # Athena reads Parquet timestamps of Hive tables at millisecond precision; the files keep microseconds
    Kind.TIMESTAMP: KindTypes(
        DataType.timestamp("us", tz="UTC"), "timestamp", "timestamp(3)", "TIMESTAMP WITH TIME ZONE"
    ),
    Kind.LOCAL_TIMESTAMP: KindTypes(DataType.timestamp("us"), "timestamp", "timestamp(3)", "TIMESTAMP"),
    Kind.DATE: KindTypes(DataType.date32(), "date", "date", "DATE"),
    Kind.JSON: KindTypes(DataType.string(), "string", "varchar", "VARCHAR"),
    Kind.BINARY: KindTypes(DataType.binary(), "binary", "varbinary", "BLOB"),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool
    description: str = ""
    attribute: str | None = None  # the record's attribute holding the value; None for lineage columns
    constant: bool = False  # the same in every row of a file: stored as a dictionary of one value
    raw: bool = False  # a msgspec.Raw field: its JSON text is kept as it came
    field_id: int = 0  # the Iceberg field id, written into each Parquet file (`field_ids`)

    @property
    def types(self) -> KindTypes:
        return KIND_TYPES[self.kind]

    @property
    def arrow_type(self) -> DataType:
        return CONSTANT_STRING if self.constant else self.types.arrow


class SchemaError(TypeError):
    """A record type that cannot be a table (the message says which field and why)."""


PARQUET_FIELD_ID = "PARQUET:field_id"  # the Arrow field metadata the Parquet writer stores as a field id
CONSTANT_STRING = DataType.dictionary(DataType.int32(), DataType.string())
LINEAGE_COLUMNS = (
    Column("source_bucket", Kind.STRING, False, "bucket of the object the record came from", constant=True),
    Column("source_key", Kind.STRING, False, "key of the object the record came from", constant=True),
    Column("source_version_id", Kind.STRING, True, "version of that object (versioned landing buckets)", constant=True),
    Column("source_line", Kind.INT, False, "line number of the record in that object (from 1)"),
)
_NAME = re.compile(r"[^a-z0-9_]")


def _kind(info: mi.Type) -> tuple[Kind, bool]:
    """A field type's kind, and whether it may be null."""
    if isinstance(info, mi.Metadata):
        return _kind(info.type)
    if isinstance(info, mi.UnionType):
        others = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(others) == 1:
            return _kind(others[0])[0], True
        return Kind.JSON, len(others) < len(info.types)
    if isinstance(info, mi.LiteralType):
        if all(isinstance(v, str) for v in info.values):
            return Kind.STRING, False
        return (Kind.INT if all(isinstance(v, int) for v in info.values) else Kind.JSON), False
    if isinstance(info, mi.DateTimeType):
        return (Kind.LOCAL_TIMESTAMP if info.tz is False else Kind.TIMESTAMP), False
    if isinstance(info, mi.RawType):
        return Kind.JSON, True  # an absent or `null` value is NULL
    simple = {
        mi.StrType: Kind.STRING,
        mi.IntType: Kind.INT,
        mi.FloatType: Kind.FLOAT,
        mi.BoolType: Kind.BOOL,
        mi.DateType: Kind.DATE,
        mi.BytesType: Kind.BINARY,
        mi.ByteArrayType: Kind.BINARY,
        mi.UUIDType: Kind.STRING,
        mi.DecimalType: Kind.STRING,
    }
    return simple.get(type(info), Kind.JSON), False


def _description(info: mi.Type) -> str:
    if isinstance(info, mi.Metadata) and info.extra_json_schema:
        return str(info.extra_json_schema.get("description", ""))
    return ""


def record_columns(record_type: type[msgspec.Struct]) -> tuple[Column, ...]:
    """The columns of a record type, in its fields' order."""
    info = mi.type_info(record_type)
    if not isinstance(info, mi.StructType):
        raise SchemaError(f"a record type must be a msgspec.Struct, not {record_type!r}")
    columns = []
    for field in info.fields:
        name = _NAME.sub("_", field.encode_name.lower())
        kind, nullable = _kind(field.type)
        raw = isinstance(field.type.type if isinstance(field.type, mi.Metadata) else field.type, mi.RawType)
        columns.append(
            Column(name, kind, nullable or not field.required, _description(field.type), field.name, raw=raw)
        )
    return tuple(columns)


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]  # what each file holds: the record's columns, then lineage
    partitioning: Partitioning | None = None
    key: str | None = None  # one row per key in the unique view

    @property
    def partition_columns(self) -> tuple[PartitionColumn, ...]:
        return self.partitioning.columns if self.partitioning else ()

    @property
    def unique_view(self) -> str | None:
        return f"{self.name}_unique" if self.key else None

    @property
    def record_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.attribute is not None)

    @cached_property
    def arrow_schema(self) -> Schema:
        """The files' schema; each field carries its Iceberg field id, which the Parquet writer stores
        (readers match columns by id, not name: without ids some return empty columns)."""
        return Schema(
            [
                Field(c.name, c.arrow_type, nullable=c.nullable, metadata={PARQUET_FIELD_ID: str(c.field_id)})
                for c in self.columns
            ]
        )

    def column_names(self) -> list[str]:
        """Every column a query sees, in the files' order (Iceberg partitions by a transform of the event
        time: no partition column of its own)."""
        return [c.name for c in self.columns]

    def markdown(self) -> str:
        """The README's table of columns."""
        rows = [
            f"| `{c.name}` | {c.types.hive} | {'yes' if c.nullable else 'no'} | {c.description} |" for c in self.columns
        ]
        return "\n".join(["| column | type | null | what |", "|---|---|---|---|", *rows])


def _check(table: TableSchema) -> TableSchema:
    names = table.column_names()
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(f"table {table.name}: column names used twice: {', '.join(duplicates)}")
    if table.key is not None and table.key not in names:
        raise SchemaError(f"table {table.name}: the record key {table.key!r} is not a column")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", table.name):
        raise SchemaError(f"table name {table.name!r}: lowercase letters, digits and _, at most 63 characters")
    return table


def field_ids(columns: tuple[Column, ...], lineage: bool) -> tuple[Column, ...]:
    """Each column with its Iceberg field id. Lineage columns are 1-4 in every table, and the record's
    fields follow in their declared order, so a field added after the others takes the next id, as
    Iceberg's schema evolution gives it, and no existing column's id ever moves."""
    first = len(LINEAGE_COLUMNS) + 1 if lineage else 1
    numbered = {c.name: first + i for i, c in enumerate(c for c in columns if c.attribute is not None)}
    if lineage:
        numbered |= {c.name: i + 1 for i, c in enumerate(LINEAGE_COLUMNS)}
    return tuple(replace(c, field_id=numbered[c.name]) for c in columns)


def table_schema(
    name: str,
    record_type: type[msgspec.Struct],
    partitioning: Partitioning | None = None,
    key: str | None = None,
    lineage: bool = True,
) -> TableSchema:
    columns = record_columns(record_type) + (LINEAGE_COLUMNS if lineage else ())
    return _check(TableSchema(name, field_ids(columns, lineage), partitioning, key))


class Tabled(Protocol):
    """What a curated table is made from: a job declares these (`landfall.jobs.Job`)."""

    name: str
    record_type: type[msgspec.Struct]
    partitioning: Partitioning
    record_key: str | None


def table_of(job: Tabled) -> TableSchema:
    """The curated table of a job: named as the job, partitioned and keyed as it declares."""
    return _table(job.name, job.record_type, job.partitioning, getattr(job, "record_key", None))


@cache
def _table(name: str, record_type: type[msgspec.Struct], partitioning: Partitioning, key: str | None) -> TableSchema:
    return table_schema(name, record_type, partitioning, key)
