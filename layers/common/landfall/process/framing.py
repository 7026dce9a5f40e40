"""Frame an object's text as blocks of whole lines, one record a line, whatever the producer wrote.

Lines end with LF or CRLF; a UTF-8 BOM at the start of any line, blank lines and a missing final
newline are fine, and so are records back to back on one line of a newline-delimited object (the
decoder reads JSON values, not lines). A line longer than the limit is reported once, cut, and the
rest of it is skipped without being buffered. Content that is not text fails the object here,
before a single line is rejected.

Firehose without the AppendDelimiterToRecord processor writes records back to back (`{...}{...}`):
such an object is recognised from its first bytes and cut at every `}{`, which outside a string can
only lie between two records. A cut inside a string leaves its piece with an odd number of quotes,
so framing joins it with the pieces up to the next such one, when together they make one JSON value.
Decoding then sees one record a line, as from any other producer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

import msgspec

from landfall.process.compression import UnsupportedFormatError, not_text
from landfall.process.formats import Framing

UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 64 * 1024  # how much of an object decides its framing, and whether it is text
_ESCAPE = re.compile(rb"\\.")  # an escaped character in a JSON string: `\"` is no quote
_NOT_QUOTE_OR_NEWLINE = bytes(byte for byte in range(256) if byte not in b'"\n')
_json_value = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Block:
    """Whole lines (each ends with LF, but perhaps the object's last), the first one numbered
    `first_line`; `newlines` counts their LFs (framing counts them anyway, decoding needs the number)."""

    data: bytes
    first_line: int
    newlines: int


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line over the limit: its number and its first `max_line_bytes` bytes."""

    number: int
    head: bytes


def iter_blocks(
    data: Iterable[bytes], max_line_bytes: int, block_bytes: int = 32 * 1024, compressed: bool = False
) -> tuple[Framing, Iterator[Block | LongLine]]:
    """The object's framing, and its content as blocks of about `block_bytes` of whole lines.

    Raises UnsupportedFormatError when the content is not text (`compressed`: it was inflated)."""
    data = iter(data)
    head = _head(data, _SNIFF_BYTES).removeprefix(UTF8_BOM)
    if reason := not_text(head, compressed):
        raise UnsupportedFormatError(reason)
    framing = sniff_framing(head)
    stream: Iterator[bytes] = itertools.chain([head], data)
    if framing == "newline":
        return framing, _blocks(stream, max_line_bytes, block_bytes)
    return framing, _whole_records(_blocks(_cut_concatenated(stream), max_line_bytes, block_bytes), max_line_bytes)


def in_messages(
    blocks: Iterable[Block | LongLine], message_bytes: int = 1024 * 1024
) -> Iterator[list[Block] | LongLine]:
    """Consecutive blocks grouped into messages of about `message_bytes`, a long line between them on
    its own (measured on one core: 1 MiB messages ran the processor 9 % faster than 256 KiB ones,
    fewer and longer calls into Arrow per partition; 2 and 4 MiB no faster)."""
    message: list[Block] = []
    size = 0
    for block in blocks:
        if isinstance(block, LongLine):
            if message:
                yield message
                message, size = [], 0
            yield block
            continue
        message.append(block)
        size += len(block.data)
        if size >= message_bytes:
            yield message
            message, size = [], 0
    if message:
        yield message


def sniff_framing(head: bytes) -> Framing:
    """Records back to back with no newline between them, or one record per line."""
    body = head.rstrip()
    if b"\n" not in body and b"}{" in body:
        return "concatenated"
    return "newline"


def without_line_boms(data: bytes) -> bytes:
    """Whole lines without the UTF-8 byte-order mark any of them starts with: files joined together
    keep each one's BOM. (A line cannot start inside a JSON string: raw newlines are not allowed there.)"""
    if UTF8_BOM not in data:
        return data
    return data.replace(b"\n" + UTF8_BOM, b"\n").removeprefix(UTF8_BOM)


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least `size` bytes from the start of the stream (fewer only if it is shorter)."""
    head = b""
    while len(head) < size:
        chunk = next(chunks, None)
        if chunk is None:
            break
        head += chunk
    return head


def _blocks(stream: Iterator[bytes], max_line_bytes: int, block_bytes: int) -> Iterator[Block | LongLine]:
    tail = b""  # the start of a line that goes on in the next chunk
    line = 1  # number of the first line in `tail`
    skipping = False  # inside an over-long line whose head was already reported
    for chunk in stream:
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            skipping = False
            chunk = chunk[end + 1 :]
            line += 1
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            tail += chunk
        else:
            whole = tail + chunk[:cut] if tail else (chunk if cut == len(chunk) else chunk[:cut])
            tail = chunk[cut:]
            line = yield from _slices(whole, line, block_bytes, max_line_bytes)
        if len(tail) > max_line_bytes:
            yield LongLine(line, tail[:max_line_bytes])
            tail = b""
            skipping = True
    if tail and not skipping:
        yield Block(without_line_boms(tail), line, tail.count(b"\n"))


def _slices(whole: bytes, line: int, block_bytes: int, max_line_bytes: int) -> Generator[Block | LongLine, None, int]:
    """Blocks of about `block_bytes` of `whole` (lines from number `line`), cut at newlines.

    Returns the number of the line after the last one.
    """
    block_bytes = min(block_bytes, max_line_bytes)  # so that any line over the limit is over a block too
    start = 0
    size = len(whole)
    while start < size:
        end = whole.rfind(b"\n", start, start + block_bytes) + 1
        if end <= start:  # a line longer than a block
            end = whole.find(b"\n", start) + 1
            if end - start - 1 > max_line_bytes:
                yield LongLine(line, whole[start : start + max_line_bytes])
                start = end
                line += 1
                continue
        block = whole[start:end] if start or end < size else whole
        newlines = block.count(b"\n")
        yield Block(without_line_boms(block), line, newlines)
        line += newlines
        start = end
    return line


def _cut_concatenated(data: Iterator[bytes]) -> Iterator[bytes]:
    """Put a newline between records written back to back (`}{` → `}\\n{`), across chunk edges too.
    A `}{` inside a string is cut as well: `_whole_records` joins such pieces again."""
    previous_ended_brace = False
    for chunk in data:
        if previous_ended_brace and chunk.startswith(b"{"):
            yield b"\n"
        yield chunk.replace(b"}{", b"}\n{")
        previous_ended_brace = chunk.endswith(b"}")


def _whole_records(blocks: Iterator[Block | LongLine], max_line_bytes: int) -> Iterator[Block | LongLine]:
    """Blocks of cut records with the pieces of each record joined again, numbered by record.

    A record still open at a block's end is held over until a block closes it (up to the longest line
    allowed): the blocks in between are kept aside as they are, and joined once."""
    joined = 0  # cuts taken out so far: the lines after them move up
    held: list[bytes] = []  # the open pieces at a block's end, then the blocks that go on with them
    held_line = held_bytes = 0
    for block in blocks:
        if isinstance(block, LongLine):
            if held:
                yield _block(b"".join(held), held_line)
                held, held_bytes = [], 0
            yield LongLine(block.number - joined, block.head)
            continue
        goes_on = block.data.endswith(b"}\n") and held_bytes + len(block.data) <= max_line_bytes
        if held and goes_on and not _open(block.data):  # nothing in it closes the open record
            held.append(block.data)
            held_bytes += len(block.data)
            continue
        data, first_line = (
            (b"".join([*held, block.data]), held_line) if held else (block.data, block.first_line - joined)
        )
        open_pieces = _open(data)
        if not open_pieces:  # the usual block: every cut was between records
            held, held_bytes = [], 0
            yield block if first_line == block.first_line and data is block.data else _block(data, first_line)
            continue
        lines, cuts, open_from = _rejoined(data.split(b"\n"), open_pieces, can_hold=len(data) <= max_line_bytes)
        joined += cuts
        held, held_bytes = [], 0
        if open_from is not None:
            held = [b"\n".join(lines[open_from:])]
            held_line, held_bytes = first_line + open_from, len(held[0])
            lines = [*lines[:open_from], b""]
        if text := b"\n".join(lines):
            yield _block(text, first_line)
    if held:
        yield _block(b"".join(held), held_line)


def _block(data: bytes, first_line: int) -> Block:
    return Block(data, first_line, data.count(b"\n"))


def _rejoined(lines: list[bytes], open_pieces: list[int], can_hold: bool) -> tuple[list[bytes], int, int | None]:
    """`lines` (the last one what follows the final newline) with each piece left open by a cut inside a
    string (`open_pieces`) joined with those up to the next open one, where together they make one JSON
    value: (the lines, how many cuts were joined, and, when `can_hold`, the index of an open piece that
    may go on in the next block, else None). A piece is in two tries at most: linear in the block."""
    out: list[bytes] = []
    cuts = position = 0
    for index, closing in itertools.zip_longest(open_pieces, open_pieces[1:]):
        if index < position:  # the closing piece of a join already made
            continue
        if closing is None:
            if can_hold and lines[-1] == b"" and lines[-2].endswith(b"}"):  # the block ended at a cut
                return out + lines[position:], cuts, len(out) + index - position
            break
        record = b"".join(lines[index : closing + 1])
        if _is_json(record):
            out += lines[position:index]
            out.append(record)
            cuts += closing - index
            position = closing + 1
    return out + lines[position:], cuts, None


def _open(data: bytes) -> list[int]:
    """The indices of the lines of `data` with an odd number of quotes (escaped ones do not count). In C
    but for the rare block that has one: the lines' quotes alone, each pair of them taken out."""
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)  # `.` is no newline: the lines stay as they are
    quotes = data.translate(None, _NOT_QUOTE_OR_NEWLINE).replace(b'""', b"")
    if b'"' not in quotes:
        return []
    return [index for index, line in enumerate(quotes.split(b"\n")) if line]


def _is_json(data: bytes) -> bool:
    try:
        _json_value.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True
