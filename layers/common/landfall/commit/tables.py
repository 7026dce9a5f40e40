"""The curated table's catalog entry: created with the stack, evolved in place by a deploy whose job
adds fields, and never changed by one that would make existing files unreadable.

Iceberg matches a file's columns to the table's by field id, so evolution is safe exactly when every
column keeps its id, its name and its type (or a wider one Iceberg allows: int → long, float → double).
A dropped, renamed, moved or narrowed column is refused with one message naming it, before anything
is written: the table stays as it was, and the deploy fails (CloudFormation rolls it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import DoubleType, FloatType, IntegerType, LongType, NestedField

from landfall.commit.definition import ICEBERG_TYPES, TABLE_PROPERTIES, iceberg_schema, partition_spec, time_column
from landfall.core.layout import curated_prefix
from landfall.table.schema import Column, TableSchema

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

_WIDER = {(IntegerType(), LongType()), (FloatType(), DoubleType())}


class SchemaChangeRefused(ValueError):
    """A declaration the table cannot take without losing what its files hold."""


@dataclass(frozen=True)
class Evolution:
    added: tuple[Column, ...] = ()  # new fields, in id order
    widened: tuple[Column, ...] = ()
    relaxed: tuple[str, ...] = ()  # required columns the job now allows to be null

    def __bool__(self) -> bool:
        return bool(self.added or self.widened or self.relaxed)


def evolution(current: Schema, table: TableSchema) -> Evolution:
    """What turns the table's schema into the declaration's; raises SchemaChangeRefused."""
    declared = {column.field_id: column for column in table.columns}
    widened, relaxed = [], []
    for old in current.fields:
        new = declared.get(old.field_id)
        if new is None or new.name != old.name:
            raise SchemaChangeRefused(_missing(table, old))
        wanted = ICEBERG_TYPES[new.kind]
        if wanted != old.field_type:
            if (old.field_type, wanted) not in _WIDER:
                raise SchemaChangeRefused(
                    f"table {table.name}: column {old.name} is {old.field_type} and cannot become {wanted}"
                )
            widened.append(new)
        if old.required and new.nullable:
            relaxed.append(old.name)
    highest = current.highest_field_id
    added = tuple(sorted((c for i, c in declared.items() if i > highest), key=lambda c: c.field_id))
    return Evolution(added, tuple(widened), tuple(relaxed))


def _missing(table: TableSchema, old: NestedField) -> str:
    moved = [c for c in table.columns if c.name == old.name]
    if moved:
        return (
            f"table {table.name}: column {old.name} would move from field id {old.field_id} to "
            f"{moved[0].field_id}: declare new fields after the existing ones"
        )
    return f"table {table.name}: column {old.name} would be dropped or renamed; its files still hold it"


def put_table(catalog: Catalog, identifier: str, table: TableSchema, location: str) -> Table:
    """Create the table, or evolve it to the declaration (refusing what would lose data)."""
    try:
        current = catalog.load_table(identifier)
    except NoSuchTableError:
        return _create(catalog, identifier, table, location)
    return _evolve(current, table)


def _create(catalog: Catalog, identifier: str, table: TableSchema, location: str) -> Table:
    created = catalog.create_table(
        identifier,
        schema=iceberg_schema(table),
        location=location,
        partition_spec=partition_spec(table),
        properties=TABLE_PROPERTIES,
    )
    given = {field.name: field.field_id for field in created.schema().fields}
    if given != {column.name: column.field_id for column in table.columns}:
        raise AssertionError(f"table {table.name}: the catalog gave field ids {given}, the files have others")
    with created.update_schema() as update:  # the files' order for `SELECT *`: the record, then lineage
        for column in reversed(table.columns):
            update.move_first(column.name)
    return created.refresh()


def allowed_changes(current: Table, table: TableSchema) -> Evolution:
    """What the declaration changes in the table; raises SchemaChangeRefused for what would lose data
    (the deploy's Catalog resource, and the demo against the table the last demo left)."""
    changes = evolution(current.schema(), table)
    _check_partitioning(current, table)
    return changes


def _evolve(current: Table, table: TableSchema) -> Table:
    changes = allowed_changes(current, table)
    if not changes:
        return current
    update = current.update_schema()
    for column in changes.added:
        update.add_column(column.name, ICEBERG_TYPES[column.kind], doc=column.description or None)
    for column in changes.widened:
        update.update_column(column.name, field_type=ICEBERG_TYPES[column.kind])
    for name in changes.relaxed:
        update.make_column_optional(name)
    proposed = update._apply()  # checked before anything is committed
    for column in changes.added:
        given = proposed.find_field(column.name).field_id
        if given != column.field_id:
            raise SchemaChangeRefused(
                f"table {table.name}: new column {column.name} would get field id {given}, the files {column.field_id}"
            )
    update.commit()
    return current.refresh()


def _check_partitioning(current: Table, table: TableSchema) -> None:
    wanted = partition_spec(table)
    have = [(f.source_id, str(f.transform)) for f in current.spec().fields]
    if have != [(f.source_id, str(f.transform)) for f in wanted.fields]:
        raise SchemaChangeRefused(
            f"table {table.name}: its partitioning cannot change in place ({current.spec()} → {wanted}); "
            "create a new table (a job of another name) and backfill it"
        )


def table_location(bucket: str, table: TableSchema) -> str:
    return f"s3://{bucket}/{curated_prefix(table.name)}".rstrip("/")


class IcebergEntry:
    """The catalog resource's curated entry (`landfall.table.catalog.CuratedEntry`): this table, in Iceberg."""

    def __init__(self, catalog: Catalog, table: TableSchema) -> None:
        self.catalog, self.table = catalog, table
        self.time_column = time_column(table).name if table.partitioning is not None else None

    def put(self, database: str, bucket: str) -> None:
        put_table(self.catalog, f"{database}.{self.table.name}", self.table, table_location(bucket, self.table))
