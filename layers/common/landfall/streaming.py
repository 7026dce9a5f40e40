"""Read an S3 object as a stream of lines, in bounded chunks, whatever its compression.

Powertools `S3Object` is the transport (ranged, seekable GETs). Gzip is recognised by its magic
bytes, not by the key's suffix, and decompressed with ISA-L member by member: Firehose and other
producers write multi-member gzip, and a plain decompressor would silently stop after the first one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from aws_lambda_powertools.utilities.streaming import S3Object
from isal import isal_zlib

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_GZIP_WBITS = 31  # gzip header and trailer


class CorruptObjectError(ValueError):
    """The object cannot be decoded (corrupt or truncated compression)."""


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, counting every line of the object including blank ones
    data: bytes  # without the line terminator; `truncated` when it was over the limit
    truncated: bool = False


def iter_chunks(s3_client, bucket: str, key: str, version_id: str | None, chunk_bytes: int):
    """Raw bytes of the object, `chunk_bytes` at a time."""
    with S3Object(bucket=bucket, key=key, version_id=version_id, boto3_client=s3_client) as body:
        while chunk := body.read(chunk_bytes):
            yield chunk


def decompress(chunks: Iterator[bytes], out_bytes: int) -> Iterator[bytes]:
    """Decompress every gzip member of a stream; pass anything without the gzip magic through."""
    first = _head(chunks, len(GZIP_MAGIC))
    if not first.startswith(GZIP_MAGIC):
        if first:
            yield first
        yield from chunks
        return

    def pending_input() -> Iterator[bytes]:
        yield first
        yield from chunks

    decoder = isal_zlib.decompressobj(_GZIP_WBITS)
    member_started = False
    for data in pending_input():
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


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least `size` bytes from the start of the stream (fewer only if it is shorter)."""
    head = b""
    while len(head) < size:
        chunk = next(chunks, None)
        if chunk is None:
            break
        head += chunk
    return head


def iter_lines(data: Iterable[bytes], max_line_bytes: int) -> Iterator[Line]:
    """Split a byte stream into lines (LF or CRLF, optional UTF-8 BOM, optional final newline).

    A line longer than `max_line_bytes` is yielded once, cut at the limit and marked truncated,
    and the rest of it is skipped without being buffered.
    """
    number = 0
    pending = b""
    skipping = False  # inside an over-long line whose head was already yielded
    data = iter(data)
    head = _head(data, len(UTF8_BOM)).removeprefix(UTF8_BOM)
    for chunk in itertools.chain([head], data):
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            if skipping:
                skipping = False
            else:
                number += 1
                line = pending + chunk[start:end] if pending else chunk[start:end]
                pending = b""
                if len(line) > max_line_bytes:
                    yield Line(number, line[:max_line_bytes], truncated=True)
                else:
                    yield Line(number, line.removesuffix(b"\r"))
            start = end + 1
        if skipping:
            continue
        rest = chunk[start:]
        if len(pending) + len(rest) > max_line_bytes:
            number += 1
            yield Line(number, (pending + rest)[:max_line_bytes], truncated=True)
            pending = b""
            skipping = True
        else:
            pending += rest
    if pending and not skipping:
        number += 1
        yield Line(number, pending.removesuffix(b"\r"))
