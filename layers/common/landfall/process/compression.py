"""Recognise an object's format by its bytes, never by its key, and inflate it in bounded memory.

Firehose writes UNCOMPRESSED, GZIP, ZIP, Snappy or HADOOP_SNAPPY objects:
- GZIP (`1f 8b`): every member of a multi-member stream, and the zero padding some tools append
  (`gzip -d` accepts it), inflated with ISA-L at most `out_bytes` at a time;
- ZIP (`PK 03 04`): every file entry in order (Firehose writes one), with the standard library's
  `zipfile` on the seekable object, which reads the central directory at the end;
- Snappy: the framing format (`ff 06 00 00 sNaPpY`) and the snappy-java stream Firehose writes
  (`82 SNAPPY 00`), block by block with cramjam;
- HADOOP_SNAPPY: Hadoop's block stream (big-endian lengths around raw Snappy chunks).
A stream cut short or corrupt is a `CorruptObjectError`: never a silent short read.

What is not text at all (zstd, bzip2, xz, Parquet, a PDF, an image, UTF-16 ...) is an
`UnsupportedFormatError` naming the format, never a flood of rejected lines: `not_text` decides
from the first inflated bytes. A line that merely starts with such bytes costs only itself: content
with a line that starts like a JSON object is text.
"""

from __future__ import annotations

import itertools
import re
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import cast

import cramjam
from isal import isal_zlib

from landfall.core.readable import SeekableReadable
from landfall.process.formats import Compression

HEAD_BYTES = 16  # enough to tell every format below apart

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive; an empty archive
SNAPPY_FRAMED_MAGIC = b"\xff\x06\x00\x00sNaPpY"
SNAPPY_JAVA_MAGIC = b"\x82SNAPPY\x00"
_GZIP_WBITS = 31  # gzip header and trailer
_SNAPPY_JAVA_HEADER = 16  # magic, version, compatible version
_HADOOP_MAX_BLOCK = 64 << 20  # larger "blocks" are not Hadoop's (its buffer is 256 KiB by default)
_INFLATE_ERRORS = cast(tuple[type[Exception], ...], (isal_zlib.error,))  # a class (its stubs say otherwise)
_SNAPPY_FRAMES_PER_CALL = 16  # each frame inflates to at most 64 KiB: bounded output per call

# Formats that are not JSON text, by their first bytes.
_NOT_TEXT: tuple[tuple[str, bytes], ...] = (
    ("gzip", GZIP_MAGIC),
    ("ZIP", ZIP_MAGICS[0]),
    ("ZIP", ZIP_MAGICS[1]),
    ("Snappy", SNAPPY_FRAMED_MAGIC),
    ("Snappy", SNAPPY_JAVA_MAGIC),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("bzip2", b"BZh"),
    ("xz", b"\xfd7zXZ\x00"),
    ("LZ4", b"\x04\x22\x4d\x18"),
    ("7-Zip", b"7z\xbc\xaf\x27\x1c"),
    ("Parquet", b"PAR1"),
    ("ORC", b"ORC"),
    ("Avro", b"Obj\x01"),
    ("PDF", b"%PDF-"),
    ("PNG", b"\x89PNG\r\n\x1a\n"),
    ("JPEG", b"\xff\xd8\xff"),
    ("GIF", b"GIF8"),
    ("SQLite", b"SQLite format 3\x00"),
    ("UTF-32 text", b"\xff\xfe\x00\x00"),
    ("UTF-32 text", b"\x00\x00\xfe\xff"),
    ("UTF-16 text", b"\xff\xfe"),
    ("UTF-16 text", b"\xfe\xff"),
)
_JSON_LINE = re.compile(rb'(?m)^[ \t\r]*(?:\xef\xbb\xbf)?\{[ \t]*"')
_MIN_SNIFF_FOR_BINARY = 1024  # a shorter object without a known signature is read as text
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13})  # not in text, besides TAB, LF, FF, CR


class UnreadableObjectError(ValueError):
    """The object cannot be read as records: it fails, alone, with this reason."""


class CorruptObjectError(UnreadableObjectError):
    """The object's compression is corrupt or cut short."""


class UnsupportedFormatError(UnreadableObjectError):
    """The object is not JSON text in a compression Firehose writes."""


def compression_of(head: bytes) -> Compression | None:
    """The compression an object's first bytes show, or None (plain text, or not readable at all)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(SNAPPY_FRAMED_MAGIC):
        return "snappy"
    if head.startswith(SNAPPY_JAVA_MAGIC):
        return "snappy-java"
    if _is_hadoop_snappy(head):
        return "hadoop-snappy"
    return None


def inflate(source: SeekableReadable, out_bytes: int) -> tuple[Compression, Generator[bytes]]:
    """The object's compression ("none" for plain content) and its content, decompressed as its
    first bytes say, about `out_bytes` at a time. Only the first bytes are read before it returns."""
    head = b""
    while len(head) < HEAD_BYTES and (more := source.read(HEAD_BYTES - len(head))):
        head += more
    compression = compression_of(head) or "none"
    return compression, _inflated(compression, head, source, out_bytes)


def _inflated(compression: Compression, head: bytes, source: SeekableReadable, out_bytes: int) -> Generator[bytes]:
    if compression == "zip":
        yield from _unzip(source, out_bytes)
        return
    chunks = itertools.chain([head], iter(lambda: source.read(out_bytes), b""))
    if compression == "none":
        yield from (chunk for chunk in chunks if chunk)
        return
    inflater: Callable[[Iterator[bytes], int], Iterator[bytes]] = {
        "gzip": _gunzip,
        "snappy": _snappy_framed,
        "snappy-java": _snappy_java,
        "hadoop-snappy": _hadoop_snappy,
    }[compression]
    yield from inflater(chunks, out_bytes)


def not_text(head: bytes, compressed: bool = False) -> str | None:
    """Why content starting with `head` (its first inflated bytes) is not JSON text, or None if it may be.

    A known signature, or (from 1 KiB on) NUL bytes or mostly control and non-UTF-8 bytes, make
    content not text, unless a line of it starts like a JSON object: then only that line is bad."""
    if _JSON_LINE.search(head):
        return None
    where = " inside the object's compression" if compressed else ""
    for name, magic in _NOT_TEXT:
        if head.startswith(magic):
            return f"unsupported format: {name}{where}"
    if len(head) < _MIN_SNIFF_FOR_BINARY:
        return None
    odd = len(head) - len(head.translate(None, _CONTROL)) + head.decode("utf-8", "replace").count("\ufffd")
    if b"\x00" in head or odd > len(head) // 10:
        return f"unsupported format: binary data{where}, not JSON text"
    return None


# ------------------------------------------------------------------------------------------ gzip


def _gunzip(chunks: Iterator[bytes], out_bytes: int) -> Iterator[bytes]:
    """Every gzip member, bounded output per call; zero padding after a member is skipped, as
    `gzip -d` does; anything else after a member must be another member."""
    decoder = isal_zlib.decompressobj(_GZIP_WBITS)
    member_started = padding = False
    for data in chunks:
        while data:
            if padding or not member_started and data[0] == 0:
                padding = True
                if data.strip(b"\x00"):
                    raise CorruptObjectError("corrupt gzip stream: data after the zero padding")
                break
            member_started = True
            try:
                out = decoder.decompress(data, out_bytes)
                while out:
                    yield out
                    out = decoder.decompress(decoder.unconsumed_tail, out_bytes)
            except _INFLATE_ERRORS as error:
                raise CorruptObjectError(f"corrupt gzip stream: {error}") from None
            if decoder.eof:  # a member ended: the rest of `data` starts the next one (or padding)
                data = decoder.unused_data
                decoder = isal_zlib.decompressobj(_GZIP_WBITS)
                member_started = False
            else:
                data = b""
    if member_started:
        raise CorruptObjectError("truncated gzip stream: the last member has no end")


# ------------------------------------------------------------------------------------------ zip


def _unzip(source: SeekableReadable, out_bytes: int) -> Iterator[bytes]:
    """Every file entry of the archive, in order; a newline between entries that lack one."""
    try:
        archive = zipfile.ZipFile(source)  # seeks: reads the directory at the end
        ended_line = True
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            if entry.flag_bits & 0x1:
                raise UnsupportedFormatError(f"unsupported format: encrypted ZIP entry {entry.filename!r}")
            if not ended_line:
                yield b"\n"
            with archive.open(entry) as content:
                while data := content.read(out_bytes):
                    yield data
                    ended_line = data.endswith(b"\n")
    except NotImplementedError as error:  # a compression method zipfile cannot read
        raise UnsupportedFormatError(f"unsupported format: ZIP {error}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise CorruptObjectError(f"corrupt ZIP archive: {error}") from None


# ------------------------------------------------------------------------------------------ snappy


class _Stream:
    """Exact reads from a stream of chunks: `take(n)` gives n bytes, b"" at a clean end."""

    def __init__(self, chunks: Iterable[bytes], name: str) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._name = name

    def take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._buffer:
                    raise CorruptObjectError(f"truncated {self._name} stream: it ends inside a block")
                return b""
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _raw_snappy(block: bytes, name: str) -> bytes:
    try:
        return bytes(cramjam.snappy.decompress_raw(block))
    except cramjam.DecompressionError as error:
        raise CorruptObjectError(f"corrupt {name} stream: {error}") from None


def _snappy_framed(chunks: Iterator[bytes], out_bytes: int) -> Iterator[bytes]:
    """The framing format, a few whole frames per call to cramjam (which checks each CRC)."""
    stream = _Stream(chunks, "Snappy")
    frames: list[bytes] = []
    while header := stream.take(4):
        length = int.from_bytes(header[1:4], "little")
        body = stream.take(length)
        if len(body) < length:
            raise CorruptObjectError("truncated Snappy stream: it ends inside a frame")
        if header[0] != 0xFF:  # stream identifiers (also of streams written back to back) are not data
            frames.append(header + body)
        if len(frames) >= _SNAPPY_FRAMES_PER_CALL:
            yield _snappy_frames(frames)
            frames = []
    if frames:
        yield _snappy_frames(frames)


def _snappy_frames(frames: list[bytes]) -> bytes:
    try:
        return bytes(cramjam.snappy.decompress(SNAPPY_FRAMED_MAGIC + b"".join(frames)))
    except cramjam.DecompressionError as error:
        raise CorruptObjectError(f"corrupt Snappy stream: {error}") from None


def _snappy_java(chunks: Iterator[bytes], out_bytes: int) -> Iterator[bytes]:
    """snappy-java's stream: a 16-byte header (also between streams written back to back), then
    blocks of a big-endian length and raw Snappy data."""
    stream = _Stream(chunks, "Snappy")
    if not stream.take(_SNAPPY_JAVA_HEADER).startswith(SNAPPY_JAVA_MAGIC):
        raise CorruptObjectError("corrupt Snappy stream: no snappy-java header")
    while length_bytes := stream.take(4):
        if length_bytes == SNAPPY_JAVA_MAGIC[:4]:  # another stream's header
            stream.take(_SNAPPY_JAVA_HEADER - 4)
            continue
        length = int.from_bytes(length_bytes, "big")
        if length > _HADOOP_MAX_BLOCK:
            raise CorruptObjectError(f"corrupt Snappy stream: a block of {length} bytes")
        yield _raw_snappy(stream.take(length), "Snappy")


def _is_hadoop_snappy(head: bytes) -> bool:
    """Hadoop's block stream: the block's length, the first chunk's length, then raw Snappy data whose
    varint preamble is the chunk's inflated length. Text never starts with such small lengths."""
    if len(head) < 9:
        return False
    block = int.from_bytes(head[0:4], "big")
    chunk = int.from_bytes(head[4:8], "big")
    if not (0 < block <= _HADOOP_MAX_BLOCK and 0 < chunk <= 32 + block + block // 6):
        return False
    inflated, shift = 0, 0
    for byte in head[8:13]:
        inflated |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return 0 < inflated <= block
    return False


def _hadoop_snappy(chunks: Iterator[bytes], out_bytes: int) -> Iterator[bytes]:
    """Blocks of [inflated length] then chunks of [length][raw Snappy] until the block is whole."""
    stream = _Stream(chunks, "HADOOP_SNAPPY")
    while header := stream.take(4):
        block = int.from_bytes(header, "big")
        produced = 0
        while produced < block:
            length_bytes = stream.take(4)
            if not length_bytes:
                raise CorruptObjectError("truncated HADOOP_SNAPPY stream: it ends inside a block")
            length = int.from_bytes(length_bytes, "big")
            if length > _HADOOP_MAX_BLOCK:
                raise CorruptObjectError(f"corrupt HADOOP_SNAPPY stream: a chunk of {length} bytes")
            data = _raw_snappy(stream.take(length), "HADOOP_SNAPPY")
            produced += len(data)
            yield data
        if produced != block:
            raise CorruptObjectError(f"corrupt HADOOP_SNAPPY stream: a block of {block} bytes held {produced}")
