"""What `make bench` measures: each function does one workload and returns its seconds."""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import boto3
from botocore.config import Config
from isal import igzip
from pydantic import BaseModel

from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.jobs.events import EventsJob
from landfall.jobs.samples import event_lines
from landfall.process.compression import inflate
from landfall.process.decoding import decode_blocks
from landfall.process.framing import Block, iter_blocks
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall.process.streaming import read_ahead

CHUNK = 1 << 20
INPUT, OUTPUT = "bench-input", "bench-output"


_EVENT_ID = re.compile(rb'"event_id":"[0-9a-f]{32}"')
FILE_AT = datetime(2026, 11, 22, 13, tzinfo=UTC)  # when the bench's file arrives: its events are before it


def make_file(
    path: Path, uncompressed_bytes: int, at: datetime = FILE_AT, stored_bytes: int | None = None, seed: int = 1
) -> int:
    """Realistic events (~0.1 % bad), gzip as Firehose writes it, arrived at `at` (`event_lines`: the 5
    minutes before it, 1 % up to two hours late); returns the uncompressed size, written up to
    `uncompressed_bytes` or, when given, `stored_bytes` of gzip. Lines are drawn from a pool of 50,000
    (generating each costs ~10 µs), each given an event id of its own, as a producer's ids are: repeated
    ids would flatter Parquet's dictionaries."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data
    pool = [line for line, _ in event_lines(rng, 50_000, at, 0.001)]
    fresh_id = lambda _: b'"event_id":"%032x"' % rng.getrandbits(128)  # noqa: E731
    written = 0
    with path.open("wb") as raw, igzip.IGzipFile(fileobj=raw, mode="wb", compresslevel=2) as out:
        while written < uncompressed_bytes and (stored_bytes is None or raw.tell() < stored_bytes):
            block = _EVENT_ID.sub(fresh_id, b"\n".join(rng.choices(pool, k=5000)) + b"\n")
            out.write(block)
            written += len(block)
    return written


def line_count(path: Path) -> int:
    with igzip.open(path, "rb") as lines:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: lines.read(8 << 20), b""))


# DuckDB's lenient read: the same aggregate as the default job's, on one thread; a bad line becomes
# NULLs or is skipped, and none is named (the comparison the core loop aims at: it names every one)
DUCKDB_AGGREGATE = """
SELECT type, count(*) AS events, sum(value), min(value), max(value), count(DISTINCT date_trunc('hour', ts))
FROM read_json(?, format = 'newline_delimited', ignore_errors = true, compression = 'gzip',
               columns = {event_id: 'VARCHAR', ts: 'TIMESTAMPTZ', type: 'VARCHAR', user_id: 'VARCHAR',
                          value: 'DOUBLE', props: 'JSON'})
GROUP BY type
"""


def duckdb_lenient(path: Path | str) -> float:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads = 1")
    started = time.perf_counter()
    rows = connection.execute(DUCKDB_AGGREGATE, [str(path)]).fetchall()
    seconds = time.perf_counter() - started
    assert sum(row[1] for row in rows) > 0
    return seconds


def core_loop(path: Path | str, threads: str = "on") -> float:
    """Decompress + frame + decode + validate + aggregate, as the processor does with a large object
    (inflating on its read-ahead thread; `threads` "off": inline), without output."""
    job = default_job()
    aggregate = job.new_aggregate()
    started = time.perf_counter()
    with Path(path).open("rb") as raw:
        _, content = inflate(raw, CHUNK)
        _, blocks = iter_blocks(read_ahead(content) if threads == "on" else content, 8 << 20, compressed=True)
        for block in blocks:
            if isinstance(block, Block):
                for segment in decode_blocks(job, [block]).segments:
                    job.fold(aggregate, segment.records)
    return time.perf_counter() - started


def client(endpoint: str, latency_s: float = 0.0):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the stand-in S3's
        config=Config(max_pool_connections=64),
    )
    if latency_s:  # every request waits as long as a round trip to S3 would
        s3.meta.events.register("before-send.s3.*", lambda **_: time.sleep(latency_s))
    return s3


def upload(endpoint: str, path: Path, key: str) -> None:
    s3 = client(endpoint)
    for bucket in (INPUT, OUTPUT):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(path), INPUT, key)


class EventsWithoutRules(EventsJob):
    """The default job without its quality rules: what they cost is the difference."""

    quality = ()


def handler(endpoint: str, key: str, threads: str = "on", rules: str = "on") -> float:
    """The processor's whole work on one object through S3, output writing included; `threads` is
    LARGE_OBJECT_THREADS (off: a large object is read and uploaded inline); `rules` off: the default job
    without its quality rules."""
    s3 = client(endpoint)
    size = s3.head_object(Bucket=INPUT, Key=key)["ContentLength"]
    event = ProcessorEvent(
        batch_input=BatchInput(run_id="bench", output_bucket=OUTPUT),
        items=[ManifestItem(bucket=INPUT, key=key, size=size)],
    )
    started = time.perf_counter()
    settings = ProcessorSettings(LARGE_OBJECT_THREADS="off" if threads == "off" else "on")
    summary = process_batch(event, s3, settings, default_job() if rules == "on" else EventsWithoutRules())
    elapsed = time.perf_counter() - started
    assert summary.objects[0].status == "processed", summary.objects[0].error
    return elapsed


EventType = Literal[
    "page_view", "click", "add_to_cart", "purchase", "search", "signup", "login", "logout", "share", "error"
]


class CommonEvent(BaseModel):
    event_id: str
    ts: datetime
    type: EventType
    value: float
    user_id: str | None = None
    props: dict | None = None


def common_approach(endpoint: str, key: str) -> float:
    """What public samples do: read the whole object, json.loads each line, validate with pydantic."""
    s3 = client(endpoint)
    started = time.perf_counter()
    body = gzip.decompress(s3.get_object(Bucket=INPUT, Key=key)["Body"].read())
    stats: dict[str, list[float]] = {}
    good, bad = [], 0
    for line in body.splitlines():
        try:
            event = CommonEvent.model_validate(json.loads(line))
        except ValueError:
            bad += 1
            continue
        good.append(line)
        stats.setdefault(event.type, []).append(event.value)
    s3.put_object(Bucket=OUTPUT, Key=f"common/{key}", Body=gzip.compress(b"\n".join(good), compresslevel=1))
    return time.perf_counter() - started


# a fixed instant, mid-hour: each small object's events fall in one partition whatever the clock says
SMALL_OBJECTS_AT = datetime(2026, 11, 22, 13, 30, tzinfo=UTC)


def small_objects(endpoint: str, count: int, latency_s: float) -> tuple[float, float]:
    """A batch of `count` small objects with `latency_s` added to every S3 request: (concurrent, one by one)."""
    s3 = client(endpoint)
    lines = event_lines(random.Random(2), 20, SMALL_OBJECTS_AT, 0)  # noqa: S311
    body = gzip.compress(b"\n".join(line for line, _ in lines))
    keys = [f"small/{n:04d}.gz" for n in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=INPUT, Key=k, Body=body), keys))
    event = ProcessorEvent(
        batch_input=BatchInput(run_id="bench-small", output_bucket=OUTPUT),
        items=[ManifestItem(bucket=INPUT, key=k, size=len(body)) for k in keys],
    )
    slow = client(endpoint, latency_s)
    timings = []
    for settings in (ProcessorSettings(), ProcessorSettings(FETCH_CONCURRENCY=1)):
        started = time.perf_counter()
        summary = process_batch(event, slow, settings, default_job())
        timings.append(time.perf_counter() - started)
        assert all(o.status == "processed" for o in summary.objects)
    return timings[0], timings[1]
