import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landfall.streaming import CorruptObjectError, decompress, iter_lines


def chunked(data: bytes, size: int):
    return iter([data[i : i + size] for i in range(0, len(data), size)])


def lines_of(data: bytes, chunk: int = 7, max_line: int = 1 << 20) -> list[bytes]:
    return [line.data for line in iter_lines(decompress(chunked(data, chunk), 64), max_line)]


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
    assert lines_of(data, chunk=2) == [b"first", b"", b"second", b"last"]


def test_line_numbers_count_every_line():
    numbers = [line.number for line in iter_lines(iter([b"a\n\nb\nc"]), 100)]
    assert numbers == [1, 2, 3, 4]


def test_a_line_over_the_limit_is_cut_and_marked_without_buffering_it_whole():
    long_line = b"x" * 10_000
    lines = list(iter_lines(chunked(b"ok\n" + long_line + b"\nafter\n", 1000), max_line_bytes=2048))
    assert [(line.number, line.truncated, len(line.data)) for line in lines] == [
        (1, False, 2),
        (2, True, 2048),
        (3, False, 5),
    ]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=0, max_size=30),
    chunk=st.integers(min_value=1, max_value=97),
    members=st.integers(min_value=1, max_value=3),
)
def test_chunk_boundaries_never_change_the_lines(lines, chunk, members):
    text = b"".join(line + b"\n" for line in lines)
    step = max(1, len(text) // members)
    parts = [text[i : i + step] for i in range(0, len(text), step)] or [b""]
    data = b"".join(gzip.compress(part) for part in parts)
    expected = [line.removesuffix(b"\r") for line in lines]
    if expected and expected[0].startswith(b"\xef\xbb\xbf"):
        expected[0] = expected[0][3:]
    assert lines_of(data, chunk=chunk) == expected


def test_zlib_streams_without_gzip_magic_are_read_as_plain_bytes():
    data = zlib.compress(b"not gzip")
    assert lines_of(data) == [data]
