"""Decode blocks of lines into records fast and find each bad line exactly.

The fast path decodes a whole block with the job's `decode_lines` (msgspec decodes and validates
~32 KiB of lines in one call). When a block has a bad line, the decoder's error says where
(msgspec: `$[i]` for the i-th record, `(byte n)` for malformed JSON); the block is split around that
line, the line is decoded alone for its reason, and the rest goes on in bulk. Without a hint the
block is bisected. Each good byte is decoded at most twice, whatever the number of bad lines (three
times on a line of records written back to back: the decoder reads JSON values, not lines, so a
segment whose records and lines do not pair up is decoded again line by line). Framing has made
records written back to back into lines already (`framing.py`).

Nothing one line holds may fail more than that line: the job is user code, and whatever it raises
while decoding one record (a RecursionError for deep nesting, an OverflowError for a date at the
calendar's edge, a bug) rejects that record's line with a reason code and the exception as detail.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from landfall.jobs import Job, RecordRejected
from landfall.process.framing import Block

_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
_BLANK_START = (b"\n", b"\r", b" ", b"\t")
_RECORD_INDEX = re.compile(r"at `\$\[(\d+)\]")
_BYTE_OFFSET = re.compile(r"\(byte (\d+)\)")
DETAIL_CHARS = 1000  # of an exception's text, in a rejection's detail
_REASON_CHARS = 64


@dataclass(frozen=True)
class Segment:
    """Consecutive lines that all decoded: their bytes (blank lines included), their records, the
    number of their first line, and each record's line number where it is not one record a line from
    `first_line` on (blank lines, records written back to back on one line)."""

    data: bytes
    records: list[Any]
    first_line: int
    numbers: list[int] | None = None

    def number_of(self, index: int) -> int:
        return self.first_line + index if self.numbers is None else self.numbers[index]

    def line(self, number: int) -> bytes:
        return self.data.split(b"\n", number - self.first_line + 1)[number - self.first_line].rstrip(b"\r")


@dataclass(frozen=True)
class Rejection:
    line: int
    data: bytes
    reason: str
    detail: str


def utf8_clipped(text: str, limit: int) -> str:
    """`text` cut to `limit` characters and made encodable: a job may put lone surrogates in it."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def failure_detail(error: BaseException) -> str:
    """An exception as a rejection's detail: its type and text, short, and always valid UTF-8."""
    return utf8_clipped(f"{type(error).__name__}: {error}", DETAIL_CHARS)


def decode_alone(job: Job, line: bytes) -> tuple[Any, None] | tuple[None, RecordRejected]:
    """One line decoded by the job: (record, None), or (None, why it is rejected). Never raises for
    anything the line holds: what the job raises besides RecordRejected is a rejection too."""
    try:
        return job.decode(line), None
    except RecordRejected as rejection:  # the job's own words, made safe to write anywhere
        return None, RecordRejected(
            utf8_clipped(str(rejection.reason), _REASON_CHARS), utf8_clipped(str(rejection.detail), DETAIL_CHARS)
        )
    except RecursionError as error:
        return None, RecordRejected("too_deep", failure_detail(error))
    except Exception as error:  # the job's own failure on this line, e.g. a bug: the line pays, not its object
        return None, RecordRejected("decode_error", failure_detail(error))


def decode_line(job: Job, line: bytes) -> tuple[list[Any], RecordRejected | None]:
    """One line's records: one, or every record written back to back on it (`{…}{…}`: the decoder reads
    JSON values, not lines); else ([], why the line is rejected). Never raises for what the line holds."""
    try:
        records = job.decode_lines(line)
    except Exception:  # the line alone says why, below
        records = []
    if records:
        return records, None
    record, rejection = decode_alone(job, line)
    return ([], rejection) if rejection is not None else ([record], None)


@dataclass(frozen=True, slots=True)
class Decoded:
    """What blocks of lines decoded to: segments of good lines (each with records), and the bad lines."""

    segments: list[Segment]
    rejections: list[Rejection]


def decode_blocks(job: Job, blocks: Iterable[Block]) -> Decoded:
    """The records of whole lines, and a rejection for each bad line, with its number and reason."""
    segments: list[Segment] = []
    rejections: list[Rejection] = []
    for block in blocks:
        decoder = _BlockDecoder(job, block.data, block.first_line, rejections)
        segments += (segment for segment in decoder.segments(block.newlines) if segment.records)
    return Decoded(segments, rejections)


def decode_block(job: Job, data: bytes, first_line: int = 1) -> Decoded:
    """`decode_blocks` of one block of lines."""
    return decode_blocks(job, [Block(data, first_line, data.count(b"\n"))])


@dataclass
class _BlockDecoder:
    job: Job
    data: bytes
    first_line: int
    rejections: list[Rejection]  # filled in as bad lines are found

    def _number(self, offset: int) -> int:
        return self.first_line + self.data.count(b"\n", 0, offset)

    def segments(self, newlines: int | None = None) -> Iterator[Segment]:
        """`newlines`: of all the data, when known (the framing counted them)."""
        data, start, size = self.data, 0, len(self.data)
        while start < size:
            try:
                records = self.job.decode_lines(data[start:] if start else data)
            except Exception as error:  # any decoder error: locate the line, decode it alone below
                bad = _locate(error, data, start)
            else:
                whole = newlines if not start else None
                yield self._numbered(data[start:] if start else data, records, self._number(start), whole)
                return
            if bad is None:  # no hint: bisect
                middle = self._middle(start)
                if middle < size:
                    half = _BlockDecoder(self.job, data[start:middle], self._number(start), self.rejections)
                    yield from half.segments()
                    start = middle
                    continue
                bad = start  # a single line
            line_start = max(start, data.rfind(b"\n", start, bad) + 1)
            if line_start > start:
                yield from self._lines_before(start, line_start)
            start = yield from self._line_at(line_start)

    def _middle(self, start: int) -> int:
        """Where to cut `data[start:]` in two at a line's end (its end if it is one line)."""
        data, size = self.data, len(self.data)
        middle = data.rfind(b"\n", start, (start + size) // 2) + 1
        return middle if middle > start else (data.find(b"\n", start) + 1 or size)

    def _numbered(self, data: bytes, records: list[Any], first_line: int, newlines: int | None = None) -> Segment:
        """Lines the decoder read in one call, as a segment whose records know their lines. The decoder
        reads JSON values, not lines: records back to back on one line, or one record spread over two,
        make the counts differ; then each line is decoded alone (rare), so that it keeps its records or
        is rejected by itself."""
        if _one_record_a_line(data, len(records), newlines):  # the usual case
            return Segment(data, records, first_line)
        lines = _nonblank_lines(data, first_line)
        if len(lines) == len(records):  # and blank lines
            return Segment(data, records, first_line, [number for number, _ in lines])
        records, numbers = [], []
        for number, line in lines:
            decoded, rejection = decode_line(self.job, line)
            if rejection is not None:
                self.rejections.append(Rejection(number, line, rejection.reason, rejection.detail))
            records += decoded
            numbers += [number] * len(decoded)
        return Segment(data, records, first_line, numbers)

    def _lines_before(self, start: int, end: int) -> Iterator[Segment]:
        prefix = self.data[start:end]
        try:
            yield self._numbered(prefix, self.job.decode_lines(prefix), self._number(start))
        except Exception:  # the hint pointed past the bad line (a record cut short): look again
            yield from _BlockDecoder(self.job, prefix, self._number(start), self.rejections).segments()

    def _line_at(self, line_start: int) -> Generator[Segment, None, int]:
        """The line at `line_start` decoded alone: kept, or rejected. Returns where it ends."""
        data = self.data
        line_end = data.find(b"\n", line_start)
        line_end = len(data) if line_end < 0 else line_end + 1
        number = self._number(line_start)
        line = data[line_start:line_end].rstrip(b"\r\n")
        records, rejection = decode_line(self.job, line)
        if rejection is None:  # decodes alone (the error was another line's, or whitespace): keep it
            yield Segment(data[line_start:line_end], records, number, [number] * len(records))
        else:
            self.rejections.append(Rejection(number, line, rejection.reason, rejection.detail))
        return line_end


def _locate(error: Exception, data: bytes, start: int) -> int | None:
    """The offset (in `data`) of the first bad line's start or inside it, from the decoder's error."""
    message = str(error)
    if isinstance(error, UnicodeDecodeError):
        return None
    if match := _BYTE_OFFSET.search(message):
        return start + min(int(match.group(1)), len(data) - start - 1)
    if match := _RECORD_INDEX.search(message):
        index = int(match.group(1))
        head = data[start:].split(b"\n", index + 1)[: index + 1]
        if len(head) == index + 1 and all(map(bytes.strip, head)):  # no blank line before it: the usual case
            return start + sum(map(len, head[:index])) + index
        position = start
        while True:  # the index counts records: blank lines are skipped
            end = data.find(b"\n", position)
            end = len(data) if end < 0 else end
            if data[position:end].strip():
                if index == 0:
                    return position
                index -= 1
            if end >= len(data):
                return None
            position = end + 1
    return None


def _one_record_a_line(data: bytes, records: int, newlines: int | None = None) -> bool:
    """As many records as lines, and no blank line: then no line holds two records either. (One record
    spread over lines, each alone broken, could still hide two on another line: not a shape a producer
    writes.) Measured on 1 MiB of events, the search for a blank line costs a tenth of the decoding."""
    return (
        data.endswith(b"\n")
        and (data.count(b"\n") if newlines is None else newlines) == records
        and data[:1] not in _BLANK_START
        and _BLANK_LINE.search(data) is None
    )


def _nonblank_lines(data: bytes, first_line: int) -> list[tuple[int, bytes]]:
    """(number, bytes) of each line of `data` that is not blank."""
    numbered = enumerate(data.split(b"\n"), start=first_line)
    return [(number, line.rstrip(b"\r")) for number, line in numbered if line.strip()]
