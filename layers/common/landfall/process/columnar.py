"""Validated records to Arrow columns, in the curated table's schema, without a Python loop per value
where C can do it.

Values are read with `attrgetter` over the whole batch and handed to Arrow as lists; timestamps and
dates go through msgspec's encoder (C) as RFC 3339 text, which Arrow parses, so their values are
exactly the decoded ones (microseconds, offsets converted to UTC). JSON columns keep a
`msgspec.Raw` field's bytes as they came, and re-encode other nested values.

A value a column cannot hold (an integer beyond 64 bits, a date whose UTC form leaves the calendar)
raises `ConversionError`; `records.py` then converts record by record to reject those records alone.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import msgspec
from arro3.core import Array, DataType, RecordBatch

from landfall.table.schema import CONSTANT_STRING, KIND_TYPES, Column, Kind, TableSchema

_encode = msgspec.json.Encoder().encode
_PARSED_KINDS = {Kind.TIMESTAMP, Kind.LOCAL_TIMESTAMP, Kind.DATE}
_NULL_JSON = (b"", b"null")  # an absent msgspec.Raw field, and JSON null
_STRING = DataType.string()
_BINARY = DataType.binary()


class ConversionError(ValueError):
    """Some value of a batch has no representation in its column."""


@dataclass(frozen=True)
class Source:
    """Where a batch's records came from: the lineage every row of a file shares."""

    bucket: str
    key: str
    version_id: str | None = None
    _columns: dict[str, Array] = field(default_factory=dict, compare=False, repr=False)

    def column(self, name: str, rows: int) -> Array:
        """The lineage column `name` for `rows` rows: a slice of one made once per object (and grown)."""
        made = self._columns.get(name)
        if made is None or len(made) < rows:
            value = {"source_bucket": self.bucket, "source_key": self.key, "source_version_id": self.version_id}
            made = self._columns[name] = constant(value[name], max(rows, 2 * len(made) if made else 8192))
        return made.slice(0, rows)


def _parsed(values: list[Any], kind: Kind) -> Array:
    """Timestamps and dates as msgspec writes them, parsed by Arrow into their column type."""
    if not values:
        strings: list[bytes | None] = []
    elif None in values:
        strings = [None if v is None else _encode(v)[1:-1] for v in values]
    else:  # one encoder call for the batch, `["...","..."]`: the values never hold a quote
        strings = list(_encode(values)[2:-2].split(b'","'))
    return Array(strings, _BINARY).cast(_STRING).cast(KIND_TYPES[kind].arrow)


def _json(values: list[Any], raw: bool) -> Array:
    pieces: list[bytes | None]
    if raw:  # msgspec.Raw values: the bytes as they came
        pieces = list(b"\n".join(values).split(b"\n"))  # a record's line holds no newline
        if len(pieces) != len(values):
            pieces = [bytes(v) for v in values]
        if pieces.count(b"") or pieces.count(b"null"):
            pieces = [None if p in _NULL_JSON else p for p in pieces]
    else:
        pieces = [None if v is None else _encode(v) for v in values]
    text = Array(pieces, _BINARY).cast(_STRING)
    # the cast makes bytes that are not UTF-8 (a Raw field as it came: `"Zo\xeb"` in Latin-1) a null,
    # silently: such a record has no representation, and is rejected rather than losing the field
    if raw and text.null_count != pieces.count(None):
        raise ValueError("the JSON text is not UTF-8")
    return text


def column_array(column: Column, values: list[Any]) -> Array:
    kind = column.kind
    if kind in _PARSED_KINDS:
        return _parsed(values, kind)
    if kind is Kind.JSON:
        return _json(values, column.raw)
    if kind is Kind.FLOAT and not column.nullable:
        return Array.from_buffer(array("d", values))
    if kind is Kind.STRING and values and not isinstance(values[0], str | None):  # UUID, Decimal
        values = [None if v is None else str(v) for v in values]
    return Array(values, KIND_TYPES[kind].arrow)


def constant(value: str | None, rows: int) -> Array:
    """`rows` times one string (or null), stored once: a dictionary of one value and zero indices."""
    indices = Array.from_buffer(memoryview(bytes(4 * rows)).cast("i"))
    return Array([value], _STRING).cast(CONSTANT_STRING).take(indices)


def to_batch(table: TableSchema, records: Sequence[Any], lines: Sequence[int], source: Source) -> RecordBatch:
    """The rows of `records` (their line numbers `lines` in `source`) in `table`'s schema.
    Raises ConversionError for a value that has no representation."""
    arrays = []
    for column in table.columns:
        if column.name == "source_line":
            arrays.append(Array.from_buffer(array("q", lines)))
            continue
        if column.attribute is None:
            arrays.append(source.column(column.name, len(records)))
            continue
        try:
            arrays.append(column_array(column, list(map(attrgetter(column.attribute), records))))
        except Exception as error:  # Arrow's and the encoder's errors alike: the caller finds the record
            raise ConversionError(f"column {column.name}: {type(error).__name__}: {error}") from error
    return RecordBatch.from_arrays(arrays, schema=table.arrow_schema)
