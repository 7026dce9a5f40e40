import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landfall.jobs import default_job
from landfall.process.decoding import decode_block

JOB = default_job()
GOOD = '{"event_id":"e%d","ts":"2026-11-22T13:00:00Z","type":"click","value":%d}'
BAD = [
    b"{oops",
    b'{"event_id": 1}',
    b"\xff\xfe",
    b'{"event_id":"x","ts":"2026-11-22T13:00:00Z","type":"nope","value":1}',
    b'{"event_id": "x", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": ',  # the error shows on the next line
]
BLANK = [b"", b"  ", b"\r"]  # not records: skipped, but they count in line numbers


def decode(data: bytes, first_line: int = 1):
    decoded = decode_block(JOB, data, first_line)
    return decoded.segments, decoded.rejections


def test_a_clean_block_is_one_segment():
    data = "".join(GOOD % (n, n) + "\n" for n in range(20)).encode()
    segments, rejections = decode(data)
    assert [len(s.records) for s in segments] == [20] and segments[0].data == data and rejections == []


def test_each_bad_line_is_found_numbered_and_the_rest_kept():
    lines = [(GOOD % (n, n)).encode() for n in range(10)]
    lines[2], lines[3], lines[7] = BAD[0], BAD[1], BAD[2]
    segments, rejections = decode(b"\n".join(lines) + b"\n", first_line=100)
    assert [(r.line, r.reason) for r in rejections] == [(102, "invalid_json"), (103, "schema"), (107, "invalid_utf8")]
    kept = [record.event_id for segment in segments for record in segment.records]
    assert kept == ["e0", "e1", "e4", "e5", "e6", "e8", "e9"]
    assert b"".join(segment.data for segment in segments).count(b"\n") == 7


class CountingJob:
    """The default job, noting every line it decodes alone and every byte it decodes in bulk."""

    def __init__(self) -> None:
        self.alone: list[bytes] = []
        self.bulk_bytes = 0

    def decode_lines(self, data: bytes):
        self.bulk_bytes += len(data)
        return JOB.decode_lines(data)

    def decode(self, line: bytes):
        self.alone.append(line)
        return JOB.decode(line)


@pytest.mark.parametrize("bad", [BAD[0], BAD[1], BAD[3]], ids=["invalid_json", "schema", "literal"])
@pytest.mark.parametrize("blank_lines", [0, 3])
def test_only_the_bad_line_is_decoded_alone_and_good_bytes_at_most_twice(bad, blank_lines):
    lines = [(GOOD % (n, n)).encode() for n in range(300)]
    lines[200] = bad
    lines[10:10] = [b""] * blank_lines
    data = b"\n".join(lines) + b"\n"
    job = CountingJob()
    decoded = decode_block(job, data)
    records, rejections = [r for segment in decoded.segments for r in segment.records], decoded.rejections
    assert len(records) == 299 and [r.line for r in rejections] == [201 + blank_lines]
    assert job.alone == [bad]
    assert job.bulk_bytes <= 2 * len(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10**6), st.sampled_from(BAD), st.sampled_from(BLANK)), max_size=40))
def test_every_line_is_either_a_record_or_a_rejection(lines):
    raw = [(GOOD % (v, v)).encode() if isinstance(v, int) else v for v in lines]
    segments, rejections = decode(b"\n".join(raw) + (b"\n" if raw else b""))
    good = [json.loads(r)["value"] for r in raw if r.startswith(b'{"event_id":"e')]
    assert [int(record.value) for s in segments for record in s.records] == good
    assert [r.line for r in rejections] == [n for n, r in enumerate(raw, start=1) if r in BAD]
