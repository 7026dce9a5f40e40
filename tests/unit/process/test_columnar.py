"""Records become rows whose values are exactly the decoded ones, as readers other than the writer see
them: written to Parquet by the processor's writer, read back with pyarrow."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from arro3.core import RecordBatchReader
from hypothesis import given, settings
from hypothesis import strategies as st

from landfall.process.columnar import ConversionError, Source, to_batch
from landfall.process.curated import write_parquet_file
from landfall.table.schema import table_schema


class Row(msgspec.Struct):
    name: str
    at: Annotated[datetime, msgspec.Meta(tz=True)]
    day: date
    amount: float
    count: int
    flag: bool
    props: msgspec.Raw = msgspec.Raw()
    tags: list[str] | None = None
    note: str | None = None
    seen: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


TABLE = table_schema("rows", Row)
DECODER = msgspec.json.Decoder(Row)
SOURCE = Source("landing", "raw/2026/11/22/13/stream-1-2026-11-22-13-05-00-x.gz", "v1")


def read_back(records: list[Row], lines: list[int]) -> list[dict[str, Any]]:
    batch = to_batch(TABLE, records, lines, SOURCE)
    buffer = io.BytesIO()
    write_parquet_file(TABLE, RecordBatchReader.from_batches(TABLE.arrow_schema, [batch]), buffer)
    return pq.read_table(io.BytesIO(buffer.getvalue())).to_pylist()


offsets = st.integers(-23 * 60 + 1, 23 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
stamps = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=offsets)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
records = st.fixed_dictionaries(
    {
        "name": st.text(max_size=20),
        "at": stamps.map(lambda d: d.isoformat()),
        "day": st.dates().map(date.isoformat),
        "amount": st.floats(allow_nan=False, allow_infinity=False),
        "count": st.integers(-(2**63), 2**63 - 1),
        "flag": st.booleans(),
    },
    optional={
        "props": st.dictionaries(st.text(max_size=5), json_values, max_size=3) | st.none(),
        "tags": st.lists(st.text(max_size=5), max_size=3) | st.none(),
        "note": st.text(max_size=10) | st.none(),
        "seen": stamps.map(lambda d: d.isoformat()) | st.none(),
    },
)


@settings(max_examples=80, deadline=None)
@given(st.lists(records, min_size=1, max_size=30))
def test_every_value_reads_back_as_msgspec_decoded_it(raw_records):
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in raw_records]
    decoded = [DECODER.decode(line) for line in lines]
    rows = read_back(decoded, list(range(1, len(lines) + 1)))
    for number, (line, record, row) in enumerate(zip(lines, decoded, rows, strict=True), start=1):
        assert row["name"] == record.name and row["amount"] == record.amount and row["count"] == record.count
        assert row["at"] == record.at.astimezone(UTC)  # exact to the microsecond, offsets converted
        assert row["day"] == record.day and row["flag"] == record.flag and row["note"] == record.note
        assert row["seen"] == (record.seen.astimezone(UTC) if record.seen else None)
        props = bytes(record.props)
        assert row["props"] == (None if props in (b"", b"null") else props.decode())  # the text as it came
        assert props == b"" or props.decode() in line.decode()
        assert (None if row["tags"] is None else json.loads(row["tags"])) == record.tags  # JSON text
        assert (row["source_bucket"], row["source_key"], row["source_version_id"], row["source_line"]) == (
            SOURCE.bucket,
            SOURCE.key,
            SOURCE.version_id,
            number,
        )


def test_timestamps_keep_microseconds_and_dates_at_the_calendars_edges():
    line = b'{"name":"x","at":"0001-01-01T00:00:00.000001+00:00","day":"9999-12-31","amount":1,"count":1,"flag":true}'
    (row,) = read_back([DECODER.decode(line)], [7])
    assert row["at"] == datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC) and row["day"] == date(9999, 12, 31)


def test_an_integer_its_column_cannot_hold_raises():
    record = {"name": "x", "at": "2026-11-22T13:00:00Z", "day": "2026-11-22", "amount": 1, "count": 2**63, "flag": 1}
    decoded = DECODER.decode(json.dumps(record | {"flag": True}))
    with pytest.raises(ConversionError, match="column count"):
        to_batch(TABLE, [decoded], [1], SOURCE)


def test_an_instant_before_year_one_in_utc_is_still_the_instant():
    record = {"name": "x", "at": "0001-01-01T00:30:00+01:00", "day": "2026-11-22", "amount": 1, "count": 1}
    batch = to_batch(TABLE, [DECODER.decode(json.dumps(record | {"flag": True}))], [1], SOURCE)
    (micros,) = pa.array(batch.column("at")).cast(pa.int64()).to_pylist()
    assert micros == -62135596800_000000 - 30 * 60_000000  # 30 minutes before 0001-01-01T00:00Z


def test_lineage_columns_are_stored_once_per_file_whatever_the_rows():
    line = b'{"name":"x","at":"2026-11-22T13:00:00Z","day":"2026-11-22","amount":1,"count":1,"flag":true}'
    records = [DECODER.decode(line)] * 20_000
    rows = read_back(records, list(range(1, 20_001)))
    assert {r["source_key"] for r in rows} == {SOURCE.key} and rows[-1]["source_line"] == 20_000
    batch = to_batch(TABLE, records, list(range(1, 20_001)), SOURCE)
    assert batch.column("source_key").nbytes < 100_000  # indices, and the key once
