"""Framing owns records written back to back: every record comes out as one line, whole, numbered by
record, however its strings and the chunk and block edges fall; a broken record costs only itself."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from landfall.jobs import default_job
from landfall.process.decoding import decode_blocks
from landfall.process.framing import Block, LongLine, in_messages, iter_blocks

# strings that a cut at `}{` would break, and the escapes that make quotes no quotes
TEXT = st.lists(st.sampled_from(["}{", '"', "\\", "}", "{", "a", " ", "é", "\n"]), max_size=12).map("".join)
RECORD = st.dictionaries(st.sampled_from(["a", "b}{", "c"]), st.one_of(TEXT, st.integers(), st.none()), max_size=3)


def framed(data: bytes, chunk: int, block: int, max_line: int = 1 << 20) -> tuple[str, list]:
    framing, blocks = iter_blocks((data[i : i + chunk] for i in range(0, len(data), chunk)), max_line, block)
    lines = []
    for item in blocks:
        if isinstance(item, LongLine):
            lines.append((item.number, "LONG"))
            continue
        assert item.newlines == item.data.count(b"\n")
        parts = item.data.split(b"\n")
        if item.data.endswith(b"\n"):
            parts.pop()
        lines += enumerate(parts, start=item.first_line)
    return framing, lines


@settings(max_examples=300, deadline=None)
@given(records=st.lists(RECORD, min_size=2, max_size=25), chunk=st.integers(1, 50), block=st.integers(16, 600))
def test_records_back_to_back_come_out_whole_one_a_line_whatever_their_strings_hold(records, chunk, block):
    encoded = [json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() for record in records]
    data = b"{}" + b"".join(encoded)  # an empty first record: the object starts `{}{`, so it is sniffed as such
    framing, lines = framed(data, chunk, block)
    assert framing == "concatenated"
    assert lines == list(enumerate([b"{}", *encoded], start=1))


def test_a_broken_record_costs_itself_and_no_other():
    good = [
        b'{"event_id":"e%d","ts":"2026-11-22T13:00:00Z","type":"click","value":%d,"props":{"s":"}{"}}' % (n, n)
        for n in range(6)
    ]
    broken = b'{"event_id":"x}'  # a string never closed
    data = b"".join(good[:2]) + broken + b"".join(good[2:])
    framing, lines = framed(data, chunk=17, block=4096)
    assert framing == "concatenated"
    assert [line for _, line in lines] == [*good[:2], broken, *good[2:]]
    blocks = [Block(line + b"\n", number, 1) for number, line in lines]
    decoded = decode_blocks(default_job(), blocks)
    assert [r.event_id for s in decoded.segments for r in s.records] == [f"e{n}" for n in range(6)]
    assert [(r.line, r.data) for r in decoded.rejections] == [(3, broken)]


def test_a_record_cut_inside_a_string_at_a_block_edge_is_joined_across_it():
    record = b'{"s":"' + b"}{" * 40 + b'"}'
    data = b'{"n":1}' * 30 + record + b'{"n":2}' * 30
    for block in (64, 100, 200, 333):
        assert [line for _, line in framed(data, chunk=7, block=block)[1]] == [b'{"n":1}'] * 30 + [record] + [
            b'{"n":2}'
        ] * 30, block


def test_messages_group_blocks_and_keep_a_long_line_between_them_alone():
    blocks = [Block(b"a\n", 1, 1), Block(b"b\n", 2, 1), LongLine(3, b"xx"), Block(b"c\n", 4, 1)]
    assert list(in_messages(blocks, message_bytes=3)) == [blocks[:2], blocks[2], [blocks[3]]]
