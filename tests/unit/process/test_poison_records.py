"""Whatever one line holds costs at most that line: through the real processor, on moto's S3.

Hostile shapes a buggy producer writes, and arbitrary bytes, are mixed into objects of valid
records; every valid record must reach curated output and the aggregates, every other line the
quarantine with a reason, and the object and its batch must complete.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from typing import Annotated

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landfall.ingest.messages import ManifestItem
from landfall.jobs import AggregateTable, RecordRejected, default_job
from landfall.jobs.events import EventsJob
from landfall.process.messages import BatchInput, BatchSummary, ObjectSummary, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.table.partitioning import HOURLY
from tests.tables import parquet_rows

VALID = b'{"event_id":"v%d","ts":"2026-11-22T13:%02d:00Z","type":"click","value":%d}'


def event(**fields) -> bytes:
    record = {"event_id": "h", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": 1} | fields
    return json.dumps(record).encode()


JSON_SPACE = b" \t\r"  # what JSON calls whitespace (Python's strip() also takes \x0b and \x0c)
DEEP = 200_000
HOSTILE = {  # line → the reason it is rejected for
    event(props=None)[:-1] + b', "props": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}": "too_deep",
    b"[" * DEEP + b"]" * DEEP: "schema",  # not an object: refused before it is descended
    event(ts="0001-01-01T00:30:00+01:00"): "fold_error",  # before year 1 in UTC
    event(ts="9999-12-31T23:30:00-01:00"): "fold_error",  # after year 9999 in UTC
    event(value=1e300): "schema",  # sums of such values would overflow to infinity
    event()[:-2] + b"1e400}": "schema",
    event()[:-2] + b"9" * 5000 + b"}": "schema",
    event()[:-2] + b"NaN}": "invalid_json",
    b'{"event_id": "\x01", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": 1}': "invalid_json",
    b'{"event_id": "\\ud800", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": 1}': "invalid_json",
    b'{"event_id": "\xed\xa0\x80", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": 1}': "invalid_utf8",
}
# hostile-looking, yet valid records: kept
VALID_EDGES = [
    event(event_id="\u0000\u001f"),  # control characters, escaped as JSON requires
    event(value=-1e15),
    event(ts="0001-01-01T01:30:00+01:00"),  # the first hour UTC can hold
]


@pytest.fixture
def landing(s3):
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    return s3


def run_batch(s3, objects: dict[str, bytes], job=None):
    for key, body in objects.items():
        s3.put_object(Bucket="landing", Key=key, Body=body)
    event_ = ProcessorEvent(
        BatchInput=BatchInput(run_id="run-1", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key=key, size=len(body)) for key, body in objects.items()],
    )
    return process_batch(event_, s3, ProcessorSettings(), job or default_job())


def curated_lines(s3, batch: BatchSummary, obj: ObjectSummary) -> list[int]:
    """The line numbers of an object's rows in its batch's curated files (read with pyarrow)."""
    rows = parquet_rows(s3, "pipeline", [file.key for file in batch.files])
    return [row["source_line"] for row in rows if row["source_key"] == obj.key]


def quarantined(s3, key: str | None) -> list[dict]:
    if key is None:
        return []
    return [json.loads(line) for line in s3.get_object(Bucket="pipeline", Key=key)["Body"].read().splitlines()]


def test_every_known_hostile_shape_costs_only_its_line_and_innocent_objects_are_untouched(landing):
    lines = []
    for n, hostile in enumerate([*HOSTILE, *VALID_EDGES]):
        lines += [VALID % (n, n % 60, n), hostile]
    innocent = b"\n".join(VALID % (n, 1, n) for n in range(10)) + b"\n"
    summary = run_batch(
        landing, {"raw/hostile.gz": gzip.compress(b"\n".join(lines)), "raw/innocent.gz": gzip.compress(innocent)}
    )
    hostile, clean = summary.objects
    assert (hostile.status, clean.status) == ("processed", "processed")
    assert (clean.valid, clean.rejected) == (10, 0)
    expected_valid = len(lines) - len(HOSTILE)
    assert (hostile.records, hostile.valid, hostile.rejected) == (len(lines), expected_valid, len(HOSTILE))
    entries = quarantined(landing, hostile.quarantine_key)
    assert [(entry["line"], entry["reason"]) for entry in entries] == [
        (2 * n + 2, reason) for n, reason in enumerate(HOSTILE.values())
    ]
    assert all(entry["detail"] for entry in entries)
    kept = curated_lines(landing, summary, hostile)
    assert sorted(kept) == [n for n, line in enumerate(lines, start=1) if line not in HOSTILE]
    assert summary.aggregates["by_type"]["click"]["count"] == expected_valid + 10


class ExplodingJob(EventsJob):
    """A job with bugs of its own: it fails on some records while folding, and on some partitions."""

    def fold(self, aggregate, records):
        if any(record.value == 13 for record in records):
            raise ZeroDivisionError("unlucky")
        return super().fold(aggregate, records)

    def partition_path(self, key):
        if key % 100 == 22:
            raise KeyError(key)
        return super().partition_path(key)


def test_what_the_job_raises_for_one_record_costs_that_record_only(landing):
    lines = [VALID % (n, 0, n) for n in range(30)]
    lines[5] = b'{"event_id":"p","ts":"2026-11-22T22:00:00Z","type":"click","value":1}'
    summary = run_batch(landing, {"raw/buggy": b"\n".join(lines)}, job=ExplodingJob())
    (obj,) = summary.objects
    assert (obj.status, obj.valid, obj.rejected) == ("processed", 28, 2)
    assert obj.rejected_by_reason == {"fold_error": 1, "partition_error": 1}
    entries = quarantined(landing, obj.quarantine_key)
    assert [(e["line"], e["reason"]) for e in entries] == [(6, "partition_error"), (14, "fold_error")]
    assert "ZeroDivisionError: unlucky" in entries[1]["detail"]


class RaisingDecoderJob(EventsJob):
    def decode(self, line):
        if b"boom" in line:
            raise MemoryError("the job's decoder gave up")
        return super().decode(line)


def test_an_exception_from_the_jobs_decoder_is_a_rejection_with_its_detail(landing):
    body = VALID % (1, 0, 1) + b"\n" + b'{"boom": 1}' + b"\n" + VALID % (2, 0, 2) + b"\n"
    (obj,) = run_batch(landing, {"raw/o": body}, job=RaisingDecoderJob()).objects
    assert (obj.valid, obj.rejected_by_reason) == (2, {"decode_error": 1})
    assert quarantined(landing, obj.quarantine_key)[0]["detail"] == "MemoryError: the job's decoder gave up"


def test_a_rejection_detail_that_is_not_valid_utf8_is_still_quarantined(landing):
    class SurrogateJob(EventsJob):
        def decode(self, line):
            raise RecordRejected("custom", "bad \ud800 value")

    (obj,) = run_batch(landing, {"raw/o": b"{}\n"}, job=SurrogateJob()).objects
    assert obj.rejected == 1
    assert quarantined(landing, obj.quarantine_key)[0]["detail"] == "bad \\ud800 value"


def _content(line: bytes) -> bytes:
    """What a line holds besides a byte-order mark at its start and JSON's whitespace: a record if anything."""
    return line.removeprefix(b"\xef\xbb\xbf").strip(JSON_SPACE)


lines_strategy = st.lists(
    st.one_of(
        st.integers(0, 10**6).map(lambda n: ("valid", VALID % (n, n % 60, n))),
        st.binary(max_size=200).map(lambda b: ("other", b.replace(b"\n", b""))),
        st.sampled_from([*sorted(HOSTILE, key=len)[:8], b"\x0b", b"\x0c", b" \t", b"\r"]).map(lambda b: ("other", b)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(0, 10**6), lines=lines_strategy, compress=st.booleans())
def test_arbitrary_lines_mixed_into_valid_objects_never_lose_a_record(landing, first, lines, compress):
    lines = [("valid", VALID % (first, 0, first)), *lines]  # a valid object: it starts with a record
    body = b"\n".join(line for _, line in lines) + b"\n"
    summary = run_batch(landing, {"raw/mixed": gzip.compress(body) if compress else body})
    (obj,) = summary.objects
    assert obj.status == "processed", obj.error
    valid = [line for kind, line in lines if kind == "valid"]
    others = [line for kind, line in lines if kind == "other" and _content(line)]  # blank: not records
    assert (obj.valid, obj.rejected, obj.records) == (len(valid), len(others), len(valid) + len(others))
    kept = curated_lines(landing, summary, obj)
    assert sorted(kept) == [n for n, (kind, _) in enumerate(lines, start=1) if kind == "valid"]
    numbers = [entry["line"] for entry in quarantined(landing, obj.quarantine_key)]
    expected = [n for n, (kind, line) in enumerate(lines, start=1) if kind == "other" and _content(line)]
    assert numbers == expected


class Tally(msgspec.Struct, gc=False):
    event_id: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    n: int  # unbounded: JSON holds integers no 64-bit column can


class TallyJob:
    """A job whose record may hold a value its table's column cannot."""

    name, record_type, partitioning, record_key = "tallies", Tally, HOURLY, "event_id"
    decoder = msgspec.json.Decoder(Tally)

    def decode_lines(self, data):
        return self.decoder.decode_lines(data)

    def decode(self, line):
        try:
            return self.decoder.decode(line)
        except msgspec.DecodeError as error:
            raise RecordRejected("schema", str(error)) from None

    def fold(self, aggregate, records):
        keys, per_hour = HOURLY.keys([record.ts for record in records])
        aggregate["n"] = aggregate.get("n", 0) + len(records)
        return keys

    def partition_path(self, key):
        return HOURLY.path(key)

    def new_aggregate(self):
        return {"n": 0}

    def merge(self, left, right):
        return {"n": left["n"] + right["n"]}

    def describe(self, aggregate):
        return [AggregateTable(title="Tallies", columns=["records"], rows=[[aggregate["n"]]])]


def test_a_value_the_table_cannot_hold_costs_its_line_and_is_in_no_aggregate(landing):
    lines = [
        b'{"event_id":"t%d","ts":"2026-11-22T13:00:00Z","n":%d}' % (i, n)
        for i, n in enumerate([1, 2**63, -(2**63), 10**30, 5])
    ]
    summary = run_batch(landing, {"raw/t": b"\n".join(lines)}, job=TallyJob())
    (obj,) = summary.objects
    assert (obj.valid, obj.rejected, obj.rejected_by_reason) == (3, 2, {"unrepresentable": 2})
    assert summary.aggregates == {"n": 3} and sum(obj.rows_by_partition.values()) == 3
    entries = quarantined(landing, obj.quarantine_key)
    assert [(e["line"], e["reason"]) for e in entries] == [(2, "unrepresentable"), (4, "unrepresentable")]
    assert "column n" in entries[0]["detail"]
    assert sorted(curated_lines(landing, summary, obj)) == [1, 3, 5]


def test_a_json_field_that_is_not_utf_8_costs_its_line_instead_of_its_value(landing):
    """The default job keeps `props` as the bytes it came as: Latin-1 there used to become a null in the
    table, silently, and the record counted valid."""
    line = '{"event_id":"e%d","ts":"2026-11-22T13:00:00Z","type":"click","value":1,"props":{"name":"%s"}}'
    lines = [(line % (0, "Zoe")).encode(), (line % (1, "Zoë")).encode("latin-1"), (line % (2, "Zoë")).encode()]
    summary = run_batch(landing, {"raw/latin-1": b"\n".join(lines)})
    (obj,) = summary.objects
    assert (obj.valid, obj.rejected, obj.rejected_by_reason) == (2, 1, {"unrepresentable": 1})
    (entry,) = quarantined(landing, obj.quarantine_key)
    assert entry["line"] == 2 and "column props" in entry["detail"] and "UTF-8" in entry["detail"]
    assert sorted(curated_lines(landing, summary, obj)) == [1, 3]


def test_two_records_back_to_back_on_one_line_of_a_delimited_object_are_both_read(landing):
    lines = [VALID % (n, 0, n) for n in range(50)]
    lines[10] = VALID % (100, 0, 100) + VALID % (101, 0, 101)  # `{…}{…}` then a newline
    lines[20] = b"\xef\xbb\xbf" + lines[20]  # a byte-order mark in the middle: files joined together
    innocent = b"\n".join(VALID % (n, 1, n) for n in range(5)) + b"\n"
    summary = run_batch(landing, {"raw/glued.gz": gzip.compress(b"\n".join(lines) + b"\n"), "raw/mate": innocent})
    glued, mate = summary.objects
    assert (glued.status, glued.valid, glued.rejected, glued.framing) == ("processed", 51, 0, "newline")
    assert (mate.status, mate.valid) == ("processed", 5)
    assert sorted(curated_lines(landing, summary, glued)) == sorted([*range(1, 51), 11])


# Objects built line by line, as a stranger's files are: records joined by newlines, CRLF, nothing or
# spaces, blank lines, byte-order marks, and broken records among them (none that would complete a
# record cut short before it: "}}", not "}"). A line is read whole or rejected whole: all its records
# are valid, or it is one rejection with its number.
BOM = b"\xef\xbb\xbf"
BROKEN = [
    b"[1, 2]",
    b"42",
    b"null",
    b'"text"',
    b'{"a":}',
    b"{",
    b"}}",
    event(type="bogus"),
    event(value="1"),
    event(event_id="e").replace(b'"e"', b'"\xff\xfe"'),
    event()[:-1] + b"\xc3",
]

record_strategy = st.integers(0, 10**6).map(lambda n: VALID % (n, n % 60, n))
broken_strategy = st.one_of(
    st.sampled_from(BROKEN),
    st.tuples(record_strategy, st.integers(1, 60)).map(lambda t: t[0][: -t[1]]),  # cut short anywhere
)
piece_strategy = st.one_of(record_strategy.map(lambda r: (True, r)), broken_strategy.map(lambda r: (False, r)))
line_strategy = st.one_of(
    st.tuples(
        st.lists(piece_strategy, min_size=1, max_size=4),
        st.sampled_from([b"", b" ", b"\t"]),  # what joins the records of one line
        st.booleans(),  # a byte-order mark at the line's start
    ),
    st.sampled_from([b"", b" ", b"\r", b"\t \t"]).map(lambda blank: ([], blank, False)),
)


def _object_of(lines: list[tuple[list[tuple[bool, bytes]], bytes, bool]], endings: list[bytes]) -> bytes:
    body = b""
    for (pieces, joiner, bom), ending in zip(lines, endings, strict=True):
        body += (BOM if bom else b"") + (joiner.join(piece for _, piece in pieces) if pieces else joiner) + ending
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=record_strategy,
    bom=st.booleans(),
    lines=st.lists(line_strategy, min_size=1, max_size=30),
    endings=st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=31, max_size=31),
    last_newline=st.booleans(),
    compress=st.booleans(),
)
def test_any_framing_of_records_costs_at_most_the_lines_that_hold_broken_ones(
    landing, first, bom, lines, endings, last_newline, compress
):
    # a first line of one record: the object is newline-delimited (one line of records back to back is
    # an object without delimiters, whose records are numbered one by one)
    lines = [([(True, first)], b"", bom), *lines]
    endings = endings[: len(lines)]
    if not last_newline:
        endings[-1] = b""
    body = _object_of(lines, endings)
    innocent = b"\n".join(VALID % (n, 1, n) for n in range(5)) + b"\n"
    summary = run_batch(landing, {"raw/framed": gzip.compress(body) if compress else body, "raw/innocent": innocent})
    obj, mate = summary.objects
    assert (obj.status, mate.status) == ("processed", "processed"), obj.error
    assert (mate.valid, mate.rejected) == (5, 0)
    good = [(n, pieces) for n, (pieces, _, _) in enumerate(lines, start=1) if pieces and all(ok for ok, _ in pieces)]
    bad = [n for n, (pieces, _, _) in enumerate(lines, start=1) if pieces and not all(ok for ok, _ in pieces)]
    valid_lines = [n for n, pieces in good for _ in pieces]  # each record of a good line, with the line's number
    assert (obj.valid, obj.rejected, obj.records) == (len(valid_lines), len(bad), len(valid_lines) + len(bad))
    assert sorted(curated_lines(landing, summary, obj)) == valid_lines
    entries = quarantined(landing, obj.quarantine_key)
    assert [entry["line"] for entry in entries] == bad
    assert all(entry["reason"] and entry["detail"] for entry in entries)
    assert sum(obj.rows_by_partition.values()) == obj.valid
    assert sum(file.rows for file in summary.files) == obj.valid + mate.valid
