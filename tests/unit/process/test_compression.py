"""Every compression Firehose writes is read by its bytes; what is not text fails its object with a reason.

Objects go through the real processor on moto's S3 (ZIP reads its directory with ranged GETs). The
Snappy and HADOOP_SNAPPY samples are written by python-snappy or by hand from the formats' specs,
not by the code under test.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import uuid
import zipfile

import cramjam
import pytest
import snappy

from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.process.compression import CorruptObjectError, UnsupportedFormatError, compression_of, inflate, not_text
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings

GOOD = b'{"event_id":"e%d","ts":"2026-11-22T13:00:00Z","type":"click","value":%d}'
TEXT = b"".join(GOOD % (n, n) + b"\n" for n in range(3000)) + b"{broken\n"


class Stream:
    """A non-seekable stream answering each read with at most `size` bytes."""

    def __init__(self, data: bytes, size: int = 1000) -> None:
        self._data, self._at, self._size = data, 0, size

    def read(self, size: int = -1) -> bytes:
        chunk = self._data[self._at : self._at + min(self._size, size if size > 0 else self._size)]
        self._at += len(chunk)
        return chunk


def content(data: bytes, size: int = 1000) -> bytes:
    _, inflated = inflate(Stream(data, size), 4096)
    return b"".join(inflated)


def zipped(*entries: tuple[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=method) as writer:
        for name, body in entries:
            writer.writestr(name, body)
    return archive.getvalue()


def snappy_java(data: bytes, block: int = 32 * 1024) -> bytes:
    """snappy-java's stream, as its spec gives it: magic, version 1, compatible version 1, then
    blocks of a big-endian length and raw Snappy."""
    out = [b"\x82SNAPPY\x00", (1).to_bytes(4, "big"), (1).to_bytes(4, "big")]
    for start in range(0, len(data), block):
        raw = bytes(cramjam.snappy.compress_raw(data[start : start + block]))
        out += [len(raw).to_bytes(4, "big"), raw]
    return b"".join(out)


def hadoop_snappy(data: bytes, block: int = 256 * 1024, chunks_per_block: int = 1) -> bytes:
    """Hadoop's BlockCompressorStream: per block its inflated length, then chunks of [length][raw]."""
    out = []
    for start in range(0, len(data), block):
        piece = data[start : start + block]
        out.append(len(piece).to_bytes(4, "big"))
        step = -(-len(piece) // chunks_per_block)
        for at in range(0, len(piece), step):
            raw = bytes(cramjam.snappy.compress_raw(piece[at : at + step]))
            out += [len(raw).to_bytes(4, "big"), raw]
    return b"".join(out)


def snappy_framed(data: bytes) -> bytes:
    compressor = snappy.StreamCompressor()
    return b"".join(compressor.add_chunk(data[i : i + 50_000]) for i in range(0, len(data), 50_000))


COMPRESSED = {
    "gzip": gzip.compress(TEXT[:40_000]) + gzip.compress(TEXT[40_000:]),
    "gzip, zero padding": gzip.compress(TEXT) + b"\x00" * 3000,
    "zip, as Firehose writes it": zipped((str(uuid.uuid4()), TEXT)),
    "zip, stored": zipped(("a", TEXT), method=zipfile.ZIP_STORED),
    "snappy framing format": snappy_framed(TEXT),
    "snappy-java stream": snappy_java(TEXT),
    "hadoop-snappy": hadoop_snappy(TEXT, block=64 * 1024),
    "hadoop-snappy, several chunks per block": hadoop_snappy(TEXT, block=64 * 1024, chunks_per_block=3),
    "none": TEXT,
}


@pytest.fixture
def buckets(s3):
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    return s3


def process(s3, body: bytes, key: str = "raw/object", small: bool = True):
    s3.put_object(Bucket="landing", Key=key, Body=body)
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="run-1", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key=key, size=len(body))],
    )
    settings = ProcessorSettings(SMALL_OBJECT_BYTES=(1 << 30) if small else 0, CHUNK_BYTES=8192)
    (summary,) = process_batch(event, s3, settings, default_job()).objects
    return summary


@pytest.mark.parametrize("small", [True, False], ids=["inline", "read-ahead"])
@pytest.mark.parametrize("name", list(COMPRESSED))
def test_every_firehose_compression_is_read_whole_by_its_bytes(buckets, name, small):
    summary = process(buckets, COMPRESSED[name], small=small)
    assert (summary.status, summary.valid, summary.rejected) == ("processed", 3000, 1), summary.error
    assert summary.compression == name.split(",")[0].replace(" framing format", "").replace(" stream", "")


def test_a_zip_archive_is_read_entry_by_entry_and_lines_do_not_run_together(buckets):
    body = zipped(("dir/", b""), ("one", GOOD % (1, 1)), ("two", GOOD % (2, 2) + b"\n"), ("three", GOOD % (3, 3)))
    summary = process(buckets, body)
    assert (summary.status, summary.valid, summary.rejected) == ("processed", 3, 0)
    assert summary.s3_gets > 1  # the directory at the end is read with a ranged GET of its own


def test_an_empty_zip_archive_holds_no_records(buckets):
    summary = process(buckets, zipped())
    assert (summary.status, summary.records) == ("processed", 0)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (gzip.compress(TEXT) + b"\x00" * 10 + b"garbage", "after the zero padding"),
        (gzip.compress(TEXT)[:-100], "truncated gzip"),
        (zipped(("a", TEXT))[:-30], "corrupt ZIP"),
        (snappy_framed(TEXT)[:-7], "truncated Snappy"),
        (snappy_java(TEXT)[:-7], "truncated Snappy"),
        (hadoop_snappy(TEXT)[:-7], "truncated HADOOP_SNAPPY"),
    ],
    ids=["gzip-trailing-garbage", "gzip-cut", "zip-cut", "snappy-cut", "snappy-java-cut", "hadoop-snappy-cut"],
)
def test_a_stream_cut_short_or_corrupt_fails_its_object_never_a_short_read(buckets, body, error):
    summary = process(buckets, body)
    assert summary.status == "failed" and error in summary.error
    assert summary.records == 0


def test_a_snappy_frame_with_a_wrong_checksum_is_corrupt():
    data = bytearray(snappy_framed(TEXT))
    data[15] ^= 1  # the first data frame's CRC
    with pytest.raises(CorruptObjectError, match="checksum"):
        content(bytes(data))


def test_an_encrypted_zip_entry_is_unsupported():
    data = bytearray(zipped(("secret", TEXT)))
    data[6] |= 1  # "encrypted" in the local header's flags
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1  # and in the central directory's
    with pytest.raises(UnsupportedFormatError, match="encrypted"):
        b"".join(inflate(io.BytesIO(bytes(data)), 4096)[1])


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 20
NOT_TEXT = {
    "zstd": bytes(cramjam.zstd.compress(TEXT)),
    "bzip2": bz2.compress(TEXT),
    "xz": lzma.compress(TEXT),
    "Parquet": b"PAR1" + bytes(range(256)) * 40 + b"PAR1",
    "PDF": PDF,
    "PNG": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "UTF-16 text": TEXT.decode().encode("utf-16"),
    "binary data": bytes(range(256)) * 64,
    "PDF inside the object's compression": gzip.compress(PDF),
}


@pytest.mark.parametrize("name", list(NOT_TEXT))
def test_what_is_not_text_fails_its_object_with_the_format_never_a_flood_of_rejected_lines(buckets, name):
    summary = process(buckets, NOT_TEXT[name])
    assert summary.status == "failed"
    assert summary.error.startswith(f"unsupported format: {name}")
    assert (summary.records, summary.rejected, summary.quarantine_key) == (0, 0, None)


def test_a_line_that_only_starts_like_a_binary_format_costs_only_itself(buckets):
    body = b"%PDF-1.7 \x00\x01 not a record\n" + TEXT
    summary = process(buckets, body)
    assert (summary.status, summary.valid, summary.rejected) == ("processed", 3000, 2)


def test_small_content_without_a_signature_is_read_as_text():
    assert not_text(b"\x00\x01garbage") is None
    assert not_text(b"\x00" * 2048) is not None
    assert not_text(b"\x00" * 2048 + b'\n{"a": 1}\n') is None


def test_formats_are_told_apart_by_their_first_bytes_only():
    assert compression_of(b'{"event_id":"x"}') is None
    assert compression_of(b"\t\t\t\t\n\n\n\n{}") is None  # small lengths only: text never looks like Hadoop's
    assert compression_of(hadoop_snappy(TEXT)[:16]) == "hadoop-snappy"
    assert content(COMPRESSED["gzip"], size=3) == TEXT  # reads of any size
