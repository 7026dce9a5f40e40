"""The curated table as Iceberg declares it, from the job's record type (`landfall.table.schema`): the
same field ids the processor writes into every Parquet file, and the job's partitioning as an Iceberg
transform of its event time, so engines prune by `ts` itself (no `dt`/`hour` columns to filter on).
"""

from __future__ import annotations

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, HourTransform, Transform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    LongType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
)

from landfall.table.schema import Column, Kind, SchemaError, TableSchema

ICEBERG_TYPES: dict[Kind, IcebergType] = {
    Kind.STRING: StringType(),
    Kind.INT: LongType(),
    Kind.FLOAT: DoubleType(),
    Kind.BOOL: BooleanType(),
    Kind.TIMESTAMP: TimestamptzType(),
    Kind.LOCAL_TIMESTAMP: TimestampType(),
    Kind.DATE: DateType(),
    Kind.JSON: StringType(),
    Kind.BINARY: BinaryType(),
}
_TRANSFORMS: dict[str, Transform] = {"hour": HourTransform(), "day": DayTransform()}
PARTITION_FIELD_ID = 1000  # Iceberg numbers partition fields from 1000
RUN_ID = "landfall.run-id"  # the snapshot summary property naming the run that committed it
# Commits are retried by `commits.commit_run` (which checks first whether an earlier attempt landed),
# not by pyiceberg: its retry would append a run's files again after a lost response.
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
    "commit.retry.num-retries": "0",
    "landfall.managed": "true",
}


def iceberg_field(column: Column) -> NestedField:
    return NestedField(
        field_id=column.field_id,
        name=column.name,
        field_type=ICEBERG_TYPES[column.kind],
        required=not column.nullable,
        doc=column.description or None,
    )


def iceberg_schema(table: TableSchema) -> Schema:
    """The table's columns, each with the field id the processor writes, in the order of their ids:
    a new table's ids are assigned afresh in field order (Iceberg's rule), which keeps them so."""
    return Schema(*(iceberg_field(column) for column in sorted(table.columns, key=lambda c: c.field_id)))


def time_column(table: TableSchema) -> Column:
    """The column the partitioning transforms: the one it names, or the table's only timestamp."""
    if table.partitioning is None:
        raise SchemaError(f"table {table.name} declares no partitioning")
    if (name := table.partitioning.column) is not None:
        found = [c for c in table.columns if c.name == name]
    else:
        found = [c for c in table.record_columns if c.kind in (Kind.TIMESTAMP, Kind.LOCAL_TIMESTAMP, Kind.DATE)]
    if len(found) != 1:
        raise SchemaError(
            f"table {table.name}: the partitioning needs one event-time column, found "
            f"{', '.join(c.name for c in found) or 'none'}: name it, e.g. Hourly(column='ts')"
        )
    return found[0]


def partition_spec(table: TableSchema) -> PartitionSpec:
    if table.partitioning is None:
        return PartitionSpec()
    source, transform = time_column(table), table.partitioning.transform
    return PartitionSpec(
        PartitionField(
            source_id=source.field_id,
            field_id=PARTITION_FIELD_ID,
            transform=_TRANSFORMS[transform],
            name=f"{source.name}_{transform}",
        )
    )
