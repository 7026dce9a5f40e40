"""A run's Iceberg commit, timed for runs of 1, 1,000 and 100,000 data files: the reducer's commit
(`landfall.commit.commits.commit_run`) through a moto server on 127.0.0.1, as on AWS a Glue and an S3
endpoint. Each size commits to a table that already holds the sizes before it, so the metadata read
grows as a table's does. The figure is wall time (requests on loopback), reported with its range, and
the requests of a commit by how they are priced (what `landfall.core.costs` plans a commit with)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import boto3

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import Backoff, commit_run
from landfall.commit.objects import RunFile
from landfall.commit.tables import put_table
from landfall.core.layout import curated_key, object_digest
from landfall.core.requests import counting
from landfall.jobs import default_job
from landfall.process.messages import CuratedFile
from landfall.table.schema import table_of

SIZES = (1, 1_000, 100_000)
BUCKET, DATABASE = "bench-table", "bench"


def _files(run: str, count: int) -> list[RunFile]:
    """`count` files of a run, a batch's hours of one day each, named as the processor names them."""
    files = []
    for n in range(count):
        partition = f"dt=2026-11-22/hour={n % 24:02d}"
        key = curated_key("events", f"backfill-{run}", partition, f"{n:032x}")
        curated = CuratedFile(key=key, rows=100_000, bytes=128 << 20, partition=partition)
        files.append(RunFile.of(curated, (object_digest("landing", f"{run}/{n}"),)))
    return files


def commit_times(endpoint: str, rounds: int, counts: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Median seconds (and range) per size, and the requests of its last commit; the 100,000-file commit
    runs once (about 10 s)."""
    session = boto3.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the stand-in server's
        region_name="us-east-1",
    )
    s3, glue = session.client("s3", endpoint_url=endpoint), session.client("glue", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    catalog, table = TableCatalog(glue, s3), table_of(default_job())
    put_table(catalog, f"{DATABASE}.events", table, f"s3://{BUCKET}/curated/events")
    results: dict[str, Any] = {}
    for size in counts:
        seconds = []
        for number in range(1 if size >= 100_000 else rounds):
            files = _files(f"r{size}-{number}", size)
            with counting(s3, glue) as requests:
                started = time.perf_counter()
                commit_run(
                    catalog, f"{DATABASE}.events", f"r{size}-{number}", files, (BUCKET, table.partitioning), Backoff()
                )
                seconds.append(time.perf_counter() - started)
        results[str(size)] = {
            "median_s": statistics.median(seconds),
            "min_s": min(seconds),
            "max_s": max(seconds),
            "requests": requests.priced().model_dump(),  # the last commit's
        }
    return results


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            f"a run's Iceberg commit, {int(size):,} files",
            f"{figure['median_s']:.2f} s",
            f"({figure['min_s']:.2f}–{figure['max_s']:.2f}); Glue and S3 on a moto server, loopback; "
            f"{figure['requests']['s3_gets']} S3 GET, {figure['requests']['s3_puts']} PUT, "
            f"{figure['requests']['glue']} Glue requests",
        )
        for size, figure in results.items()
    ]
