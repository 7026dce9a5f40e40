import gzip
import itertools
import threading
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landfall.process.compression import CorruptObjectError, UnsupportedFormatError, inflate, not_text
from landfall.process.framing import Block, LongLine, iter_blocks, sniff_framing
from landfall.process.streaming import read_ahead


class Chunks:
    """A stream that answers every read with its next chunk, whatever size was asked for."""

    def __init__(self, data: bytes, size: int) -> None:
        self._chunks = iter([data[i : i + size] for i in range(0, len(data), size)])

    def read(self, size: int = -1) -> bytes:
        return next(self._chunks, b"")


def inflated(data: bytes, chunk: int = 7, out_bytes: int = 64):
    compression, content = inflate(Chunks(data, chunk), out_bytes)
    return content


def framed(data: bytes, chunk: int = 7, max_line: int = 1 << 20, block: int = 64):
    """(framing, [(line number, line bytes or ("LONG", head size))]) of a (possibly gzip) stream."""
    framing, blocks = iter_blocks(inflated(data, chunk), max_line, block_bytes=block)
    lines = []
    for item in blocks:
        if isinstance(item, LongLine):
            lines.append((item.number, ("LONG", len(item.head))))
            continue
        assert isinstance(item, Block)
        parts = item.data.split(b"\n")
        if item.data.endswith(b"\n"):
            parts.pop()
        lines += [(item.first_line + i, part.removesuffix(b"\r")) for i, part in enumerate(parts)]
    return framing, lines


def lines_of(data: bytes, **kwargs) -> list[bytes]:
    return [line for _, line in framed(data, **kwargs)[1]]


def test_multi_member_gzip_is_read_completely():
    data = gzip.compress(b"a\nb\n") + gzip.compress(b"c\n") + gzip.compress(b"d")
    assert lines_of(data) == [b"a", b"b", b"c", b"d"]


def test_uncompressed_objects_pass_through_whatever_their_name():
    assert lines_of(b'{"a":1}\n{"a":2}\n') == [b'{"a":1}', b'{"a":2}']


def test_a_truncated_gzip_stream_is_an_error_not_a_short_read():
    data = gzip.compress(b"x" * 10_000 + b"\n")
    with pytest.raises(CorruptObjectError, match="truncated"):
        lines_of(data[:-12])


def test_a_corrupt_gzip_stream_is_an_error():
    data = bytearray(gzip.compress(bytes(range(256)) * 50))
    data[40:60] = b"\x00" * 20
    with pytest.raises(CorruptObjectError):
        lines_of(bytes(data))


def test_crlf_bom_blank_lines_and_missing_final_newline():
    data = b"\xef\xbb\xbffirst\r\n\r\nsecond\nlast"
    assert framed(data, chunk=2)[1] == [(1, b"first"), (2, b""), (3, b"second"), (4, b"last")]


def test_a_line_over_the_limit_is_reported_once_without_buffering_it_whole():
    long_line = b"x" * 10_000
    data = b"ok\n" + long_line + b"\nafter\n" + b"y" * 5000
    assert framed(data, chunk=1000, max_line=2048, block=512)[1] == [
        (1, b"ok"),
        (2, ("LONG", 2048)),
        (3, b"after"),
        (4, ("LONG", 2048)),
    ]


def test_lines_of_several_mebibytes_within_the_limit_are_whole():
    big = b'{"pad": "' + b"z" * (3 << 20) + b'"}'
    assert lines_of(b"a\n" + big + b"\nb\n", chunk=1 << 16, max_line=8 << 20) == [b"a", big, b"b"]


def test_records_written_back_to_back_are_split_and_the_framing_is_reported():
    records = [b'{"a":%d,"s":"x}{y"}' % n for n in range(50)]  # each cut once inside its string, and joined again
    framing, lines = framed(b"".join(records), chunk=13)
    assert framing == "concatenated"
    assert lines == list(enumerate(records, start=1))


def test_framing_is_sniffed_from_the_content():
    assert sniff_framing(b'{"a":1}\n{"a":2}\n') == "newline"
    assert sniff_framing(b'{"a":1}{"a":2}') == "concatenated"
    assert sniff_framing(b'{"a":1}\n') == "newline"


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=0, max_size=30),
    chunk=st.integers(min_value=1, max_value=97),
    block=st.integers(min_value=1, max_value=200),
    members=st.integers(min_value=1, max_value=3),
)
def test_chunk_and_block_boundaries_never_change_the_lines(lines, chunk, block, members):
    text = b"".join(line + b"\n" for line in lines)
    step = max(1, len(text) // members)
    parts = [text[i : i + step] for i in range(0, len(text), step)] or [b""]
    data = b"".join(gzip.compress(part) for part in parts)
    expected = [line.removesuffix(b"\r").removeprefix(b"\xef\xbb\xbf") for line in lines]  # a BOM on any line
    head = text[: 64 * 1024].removeprefix(b"\xef\xbb\xbf")
    if not_text(head, compressed=True):  # binary lines only: the object fails, no line is read
        with pytest.raises(UnsupportedFormatError):
            framed(data, chunk=chunk, block=block)
    elif sniff_framing(head) == "newline":
        got = framed(data, chunk=chunk, block=block)[1]
        assert [line for _, line in got] == expected
        assert [number for number, _ in got] == list(range(1, len(expected) + 1))


def test_zlib_streams_without_gzip_magic_are_read_as_plain_bytes():
    data = zlib.compress(b"not gzip")
    assert lines_of(data) == [data]


def read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "landfall-read-ahead"]


def test_read_ahead_yields_everything_in_order_from_another_thread():
    producers = []

    def numbers():
        for n in range(1000):
            producers.append(threading.current_thread())
            yield b"%d" % n

    assert list(read_ahead(numbers())) == [b"%d" % n for n in range(1000)]
    assert threading.current_thread() not in producers
    assert not read_ahead_threads()


def test_read_ahead_raises_the_producers_error_after_what_came_before_it():
    data = gzip.compress(b"line\n" * 50_000)
    received = []
    with pytest.raises(CorruptObjectError, match="truncated"):
        for chunk in read_ahead(inflated(data[:-20], 1000, 4096)):
            received.append(chunk)
    assert b"".join(received) and b"line\n" * 1000 in b"".join(received)
    assert not read_ahead_threads()


def test_closing_read_ahead_early_stops_its_thread_and_it_stays_bounded():
    produced = []

    closed = []

    def endless():
        try:
            for n in itertools.count():
                produced.append(n)
                yield b"x"
        finally:
            closed.append(True)  # e.g. the object's S3 response is closed

    items = read_ahead(endless(), depth=2)
    assert next(items) == b"x"
    items.close()
    assert not read_ahead_threads()
    assert closed == [True]
    assert len(produced) <= 1 + 2 + 1  # the one consumed, the queue's depth, the one being offered
