"""Read an S3 object as blocks of whole lines, in bounded memory, whatever its compression or framing.

Powertools `S3Object` is the transport (ranged GETs; ZIP archives seek). `compression.inflate`
recognises the compression by the object's bytes and inflates it; content that is not text fails
the object here, before a single line is rejected.

Framing: lines end with LF or CRLF; a UTF-8 BOM at the start of any line, blank lines and a missing
final newline are fine, and so are records back to back on one line of a newline-delimited object.
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

from landfall.process.compression import UnsupportedFormatError, not_text

UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 64 * 1024  # how much of an object decides its framing, and whether it is text

Framing = Literal["newline", "concatenated"]


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
    """The calls S3Object makes, bound to our client and counted (both are GET-priced requests).

    Given the client itself, S3Object registers one more User-Agent handler on it for every object;
    on the warm client of an execution environment every request would then run one handler per
    object ever read."""

    __slots__ = ("_client", "requests")

    def __init__(self, s3_client) -> None:
        self._client = s3_client
        self.requests = 0

    def get_object(self, **kwargs: Any) -> Any:
        self.requests += 1
        return self._client.get_object(**kwargs)

    def head_object(self, **kwargs: Any) -> Any:
        self.requests += 1
        return self._client.head_object(**kwargs)


class ObjectSource:
    """One object (version) in S3: read in order through one GET, or sought (each seek that moves is
    a ranged GET: ZIP reads its directory at the end). Counts the bytes and requests it costs."""

    def __init__(self, s3_client, bucket: str, key: str, version_id: str | None = None) -> None:
        self._calls = _ObjectCalls(s3_client)
        self._object = S3Object(bucket=bucket, key=key, version_id=version_id, boto3_client=self._calls)  # type: ignore[arg-type]
        self.bytes_read = 0

    @property
    def requests(self) -> int:
        return self._calls.requests

    def read(self, size: int = -1, /) -> bytes:
        data = self._object.read(size)
        self.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._object.seek(offset, whence)

    def tell(self) -> int:
        return self._object.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._object.close()


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least `size` bytes from the start of the stream (fewer only if it is shorter)."""
    head = b""
    while len(head) < size:
        chunk = next(chunks, None)
        if chunk is None:
            break
        head += chunk
    return head


_END = object()


def read_ahead(items: Iterable[bytes], depth: int = 2) -> Generator[bytes]:
    """`items`, produced on a thread of their own up to `depth` ahead of the consumer.

    For a producer that releases the GIL (socket reads, ISA-L inflate), its work overlaps the
    consumer's on a second core. What it raises is raised here, in order; memory stays bounded by
    `depth` items; closing this iterator early stops the thread.
    """
    producer = _Producer(iter(items), depth)
    worker = threading.Thread(target=producer.run, name="landfall-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := producer.handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        producer.stop.set()
        worker.join()


class _Producer:
    """The read-ahead thread's side: it hands items (then the end, or what it raised) over."""

    def __init__(self, source: Iterator[bytes], depth: int) -> None:
        self.source = source
        self.handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()

    def offer(self, item: Any) -> bool:
        """Hand `item` over; False if the consumer stopped first."""
        while not self.stop.is_set():
            try:
                self.handoff.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def run(self) -> None:
        try:
            for item in self.source:
                if not self.offer(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            self.offer(error)
        else:
            self.offer(_END)
        finally:
            if close := getattr(self.source, "close", None):
                close()  # e.g. the S3 response of an object left unfinished


def without_line_boms(data: bytes) -> bytes:
    """Whole lines without the UTF-8 byte-order mark any of them starts with: files joined together
    keep each one's BOM. (A line cannot start inside a JSON string: raw newlines are not allowed there.)"""
    if UTF8_BOM not in data:
        return data
    return data.replace(b"\n" + UTF8_BOM, b"\n").removeprefix(UTF8_BOM)


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
