"""Decode blocks of lines into records fast, find each bad line exactly, fold and group the rest.

The fast path decodes a whole block with the job's `decode_lines` (msgspec decodes and validates
~32 KiB of lines in one call). When a block has a bad line, the decoder's error says where
(msgspec: `$[i]` for the i-th record, `(byte n)` for malformed JSON); the block is split around that
line, the line is decoded alone for its reason, and the rest goes on in bulk. Without a hint the
block is bisected. Each good byte is decoded at most twice, whatever the number of bad lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import compress
from typing import Any

from landfall.jobs import Job, RecordRejected

_RECORD_INDEX = re.compile(r"at `\$\[(\d+)\]")
_BYTE_OFFSET = re.compile(r"\(byte (\d+)\)")


@dataclass(frozen=True)
class Segment:
    """Consecutive lines that all decoded: their bytes (blank lines included) and their records."""

    data: bytes
    records: list[Any]


@dataclass(frozen=True)
class Rejection:
    line: int
    data: bytes
    reason: str
    detail: str


def decode_block(
    job: Job,
    data: bytes,
    first_line: int,
    rejections: list[Rejection],
    rejoin: bool = False,
    unfinished: list[tuple[int, bytes]] | None = None,
) -> Iterator[Segment]:
    """Segments of good lines of `data`; bad lines go to `rejections` with their numbers.

    `rejoin`: pieces of a record that was split at a `}{` inside a string (objects without
    delimiters) are joined again before a piece is rejected. A bad last line that may continue in
    the next block goes to `unfinished` (number, bytes) instead: the caller puts it before that block.
    """
    start = 0
    size = len(data)
    while start < size:
        try:
            records = job.decode_lines(data[start:] if start else data)
        except Exception as error:  # any decoder error: locate the line, decode it alone below
            bad = _locate(error, data, start)
        else:
            yield Segment(data[start:] if start else data, records)
            return
        if bad is None:  # no hint: bisect
            middle = data.rfind(b"\n", start, (start + size) // 2) + 1
            if middle <= start:
                middle = data.find(b"\n", start) + 1 or size
            if middle >= size:  # a single line
                bad = start
            else:
                yield from decode_block(
                    job, data[start:middle], first_line + data.count(b"\n", 0, start), rejections, rejoin
                )
                start = middle
                continue
        line_start = max(start, data.rfind(b"\n", start, bad) + 1)
        if line_start > start:
            prefix = data[start:line_start]
            try:
                yield Segment(prefix, job.decode_lines(prefix))
            except Exception:  # the hint pointed past the bad line (a record cut short): look again
                yield from decode_block(job, prefix, first_line + data.count(b"\n", 0, start), rejections, rejoin)
        line_end = data.find(b"\n", line_start)
        line_end = size if line_end < 0 else line_end + 1
        number = first_line + data.count(b"\n", 0, line_start)
        line = data[line_start:line_end].rstrip(b"\r\n")
        try:
            record = job.decode(line)
        except RecordRejected as rejection:
            joined = _rejoin(job, data, line_start, line_end, size) if rejoin else None
            if joined is not None:
                record_bytes, line_end = joined
                yield Segment(record_bytes + b"\n", [job.decode(record_bytes)])
            elif rejoin and unfinished is not None and line_end >= size and line.endswith(b"}"):
                unfinished.append((number, line))
            else:
                rejections.append(Rejection(number, line, rejection.reason, rejection.detail))
        else:  # decodes alone (e.g. whitespace the bulk decoder refused): keep it
            yield Segment(data[line_start:line_end], [record])
        start = line_end


def _rejoin(job: Job, data: bytes, line_start: int, line_end: int, size: int) -> tuple[bytes, int] | None:
    """Join a piece with the next ones (they were split at a `}{` inside a string) until one decodes."""
    joined = data[line_start:line_end].rstrip(b"\r\n")
    end = line_end
    while end < size and joined.endswith(b"}"):
        next_end = data.find(b"\n", end)
        next_end = size if next_end < 0 else next_end + 1
        joined += data[end:next_end].rstrip(b"\r\n")
        end = next_end
        try:
            job.decode(joined)
        except RecordRejected:
            continue
        return joined, end
    return None


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


@dataclass(frozen=True)
class Decoded:
    """What a message of blocks decoded to."""

    aggregate: dict[str, Any]
    valid: int
    partitions: list[tuple[str, bytes]]  # (curated path, valid lines), in first-seen order
    rejections: list[Rejection]


def decode_and_fold(
    job: Job,
    blocks: list[tuple[bytes, int]],
    rejoin: bool = False,
    unfinished: list[tuple[int, bytes]] | None = None,
) -> Decoded:
    """The processor's per-block work: decode, fold, group valid lines by partition (see decode_block
    for `rejoin` and `unfinished`, used for objects without delimiters)."""
    aggregate = job.new_aggregate()
    rejections: list[Rejection] = []
    records: list[Any] = []
    bodies: list[bytes] = []
    for data, first_line in blocks:
        for segment in decode_block(job, data, first_line, rejections, rejoin, unfinished):
            if segment.records:
                records += segment.records
                bodies.append(segment.data if segment.data.endswith(b"\n") else segment.data + b"\n")
    if not records:
        return Decoded(aggregate, 0, [], rejections)
    keys = job.fold(aggregate, records)  # once per message: the job's per-call work is paid once
    body = b"".join(bodies)
    first = keys[0]
    if keys.count(first) == len(keys):
        return Decoded(aggregate, len(records), [(job.partition_path(first), body)], rejections)
    lines = body.split(b"\n")
    lines.pop()  # after the last newline
    if len(lines) != len(records):  # blank lines are not records
        lines = [line for line in lines if line.strip()]
    partitions = []
    for key in dict.fromkeys(keys):  # first-seen order
        selected = list(compress(lines, map(key.__eq__, keys)))
        selected.append(b"")
        partitions.append((job.partition_path(key), b"\n".join(selected)))
    return Decoded(aggregate, len(records), partitions, rejections)


def batches(blocks: Iterable[tuple[bytes, int]], message_bytes: int = 256 * 1024) -> Iterator[list[tuple[bytes, int]]]:
    """Group consecutive blocks into messages of about `message_bytes`."""
    message: list[tuple[bytes, int]] = []
    size = 0
    for block in blocks:
        message.append(block)
        size += len(block[0])
        if size >= message_bytes:
            yield message
            message, size = [], 0
    if message:
        yield message
