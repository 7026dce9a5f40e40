"""`RecordJob`: a job declares what is its own and gets decoding, rejection reasons, partitions and a
summing aggregate; `landfall.jobs.__all__` is what a job author imports."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec
import pytest

from landfall.jobs import DAILY, RecordJob, RecordRejected


class Visit(msgspec.Struct):
    page: str
    ts: datetime


class VisitsJob(RecordJob):  # a whole job: what it is, where its records go, what it counts
    name, record_type, partitioning = "visits", Visit, DAILY

    def fold(self, aggregate, records):
        aggregate["visits"] = aggregate.get("visits", 0) + len(records)
        return DAILY.keys([visit.ts for visit in records])[0]


JOB = VisitsJob()
LINES = b'{"page": "/", "ts": "2026-11-22T13:05:00Z"}\n\n{"page": "/a", "ts": "2026-11-23T01:00:00Z"}\n'


def test_a_job_of_five_lines_decodes_and_partitions():
    records = JOB.decode_lines(LINES)
    assert records == [Visit("/", datetime.fromisoformat("2026-11-22T13:05:00Z")), JOB.decode(LINES.splitlines()[-1])]
    keys = JOB.fold(JOB.new_aggregate(), records)
    assert [JOB.partition_path(key) for key in keys] == ["dt=2026-11-22", "dt=2026-11-23"]
    assert JOB.record_key is None  # no unique view


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        (b'{"page": 1, "ts": "2026-11-22T13:05:00Z"}', "schema", "$.page"),
        (b'{"page": "/"}', "schema", "ts"),
        (b'{"page": "/", "ts": "', "invalid_json", "truncated"),
        (b'{"page": "\xff", "ts": "2026-11-22T13:05:00Z"}', "invalid_utf8", "UTF-8"),
    ],
)
def test_a_bad_line_is_rejected_with_the_reason_every_job_shares(line, reason, detail):
    with pytest.raises(RecordRejected) as rejected:
        JOB.decode(line)
    assert rejected.value.reason == reason and detail in rejected.value.detail


@pytest.mark.parametrize(
    ("block", "where"), [(LINES + b'{"page": 2, "ts": "x"}\n', "$[2]"), (LINES + b"{oops\n", "(byte ")]
)
def test_a_bad_line_in_a_block_is_named_as_the_processor_finds_it(block, where):
    """The processor locates the bad line from msgspec's words: the record's index, or a byte offset."""
    with pytest.raises(msgspec.DecodeError, match=re.escape(where)):
        JOB.decode_lines(block)


def test_the_default_aggregate_sums_and_is_reported_as_one_table():
    left = {"visits": 2, "by_page": {"/": 2}}
    merged = JOB.merge(left, {"visits": 1, "by_page": {"/": 1, "/a": 1}, "errors": {"404": 1}})
    assert merged == {"visits": 3, "by_page": {"/": 3, "/a": 1}, "errors": {"404": 1}}
    (table,) = JOB.describe(merged)
    assert (table.title, table.columns) == ("visits", ["aggregate", "value"])
    assert table.rows == [["by_page./", 3], ["by_page./a", 1], ["errors.404", 1], ["visits", 3]]
    assert JOB.merge(JOB.new_aggregate(), {}) == {} and JOB.describe({}) == []


def test_a_job_without_a_fold_is_refused_when_it_is_loaded():
    class Unfinished(RecordJob):
        name, record_type, partitioning = "unfinished", Visit, DAILY

    with pytest.raises(TypeError, match="fold"):
        Unfinished()  # type: ignore[abstract]
