"""Read an S3 object as blocks of whole lines, in bounded memory, whatever its compression or framing.

Powertools `S3Object` is the transport (ranged GETs). Gzip is recognised by its magic bytes, not by
the key's suffix, and decompressed with ISA-L member by member: Firehose and other producers write
multi-member gzip, and a plain decompressor would silently stop after the first member. Output is
bounded (`max_length` + `unconsumed_tail`), so memory does not grow with the object.

Framing: lines end with LF or CRLF; a UTF-8 BOM, blank lines and a missing final newline are fine.
Firehose without the AppendDelimiterToRecord processor writes records back to back (`{...}{...}`):
such an object is recognised from its first bytes and split between records. A line longer than the
limit is reported once, cut, and the rest of it is skipped without being buffered.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.streaming import S3Object
from isal import isal_zlib

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_GZIP_WBITS = 31  # gzip header and trailer
_SNIFF_BYTES = 64 * 1024  # how much of an object decides its framing

Framing = Literal["newline", "concatenated"]


class CorruptObjectError(ValueError):
    """The object cannot be decoded (corrupt or truncated compression)."""


@dataclass(frozen=True)
class Block:
    """Whole lines (each ends with LF, but perhaps the object's last), the first one numbered `first_line`."""

    data: bytes
    first_line: int


@dataclass(frozen=True)
class LongLine:
    """A line over the limit: its number and its first `max_line_bytes` bytes."""

    number: int
    head: bytes


class _ObjectCalls:
    """The calls S3Object makes, bound to our client. Given the client itself, S3Object registers
    one more User-Agent handler on it for every object; on the warm client of an execution
    environment every request would then run one handler per object ever read."""

    __slots__ = ("get_object", "head_object")

    def __init__(self, s3_client) -> None:
        self.get_object = s3_client.get_object
        self.head_object = s3_client.head_object


def iter_chunks(s3_client, bucket: str, key: str, version_id: str | None, chunk_bytes: int) -> Iterator[bytes]:
    """Raw bytes of the object, `chunk_bytes` at a time."""
    calls = _ObjectCalls(s3_client)
    with S3Object(bucket=bucket, key=key, version_id=version_id, boto3_client=calls) as body:  # type: ignore[arg-type]
        while chunk := body.read(chunk_bytes):
            yield chunk


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least `size` bytes from the start of the stream (fewer only if it is shorter)."""
    head = b""
    while len(head) < size:
        chunk = next(chunks, None)
        if chunk is None:
            break
        head += chunk
    return head


def decompress(chunks: Iterable[bytes], out_bytes: int) -> Generator[bytes]:
    """Decompress every gzip member of a stream; pass anything without the gzip magic through."""
    chunks = iter(chunks)
    first = _head(chunks, len(GZIP_MAGIC))
    if not first.startswith(GZIP_MAGIC):
        if first:
            yield first
        yield from chunks
        return

    decoder = isal_zlib.decompressobj(_GZIP_WBITS)
    member_started = False
    for data in itertools.chain([first], chunks):
        while data:
            member_started = True
            try:
                out = decoder.decompress(data, out_bytes)
                while out:
                    yield out
                    out = decoder.decompress(decoder.unconsumed_tail, out_bytes)
            except isal_zlib.error as error:
                raise CorruptObjectError(f"corrupt gzip stream: {error}") from None
            if decoder.eof:  # a member ended: the rest of `data` starts the next one
                data = decoder.unused_data
                decoder = isal_zlib.decompressobj(_GZIP_WBITS)
                member_started = False
            else:
                data = b""
    if member_started:
        raise CorruptObjectError("truncated gzip stream: the last member has no end")


_END = object()


def read_ahead(items: Iterable[bytes], depth: int = 2) -> Generator[bytes]:
    """`items`, produced on a thread of their own up to `depth` ahead of the consumer.

    For a producer that releases the GIL (socket reads, ISA-L inflate), its work overlaps the
    consumer's on a second core. What it raises is raised here, in order; memory stays bounded by
    `depth` items; closing this iterator early stops the thread.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            offer(error)
        else:
            offer(_END)
        finally:
            if close := getattr(source, "close", None):
                close()  # e.g. the S3 response of an object left unfinished

    worker = threading.Thread(target=produce, name="landfall-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def sniff_framing(head: bytes) -> Framing:
    """Records back to back with no newline between them, or one record per line."""
    body = head.rstrip()
    if b"\n" not in body and b"}{" in body:
        return "concatenated"
    return "newline"


def _split_concatenated(data: Iterator[bytes]) -> Iterator[bytes]:
    """Put a newline between records written back to back (`}{` → `}\\n{`), across chunk edges too.

    A `}{` inside a string value is split as well; the record decoder rejoins such pieces.
    """
    previous_ended_brace = False
    for chunk in data:
        if previous_ended_brace and chunk.startswith(b"{"):
            yield b"\n"
        yield chunk.replace(b"}{", b"}\n{")
        previous_ended_brace = chunk.endswith(b"}")


def iter_blocks(
    data: Iterable[bytes], max_line_bytes: int, block_bytes: int = 32 * 1024
) -> tuple[Framing, Iterator[Block | LongLine]]:
    """The object's framing, and its content as blocks of about `block_bytes` of whole lines."""
    data = iter(data)
    head = _head(data, _SNIFF_BYTES).removeprefix(UTF8_BOM)
    framing = sniff_framing(head)
    stream: Iterator[bytes] = itertools.chain([head], data)
    if framing == "concatenated":
        stream = _split_concatenated(stream)
    return framing, _blocks(stream, max_line_bytes, block_bytes)


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
        yield Block(tail, line)


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
        yield Block(block, line)
        line += block.count(b"\n")
        start = end
    return line
