"""The curated table as its users read it: with readers that are not its writer (pyarrow and DuckDB),
from S3 (moto in process, or the emulator) or from a folder the files were downloaded into."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import msgspec
import pyarrow.parquet as pq


def parquet_rows(s3, bucket: str, keys: list[str]) -> list[dict[str, Any]]:
    """Every row of the files at `keys`, in order, as pyarrow reads them."""
    rows: list[dict[str, Any]] = []
    for key in keys:
        rows += pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).to_pylist()
    return rows


def download(s3, bucket: str, prefix: str, into: Path) -> Path:
    """Every object under `prefix`, at its key below `into`."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            path = into / entry["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
    return into


def duckdb_query(sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(sql).fetchall()


class GrownEvent(msgspec.Struct):
    """The default job's record with a field added after the others: the table evolves in place."""

    event_id: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    type: str
    value: float
    user_id: str | None = None
    props: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))
    channel: str | None = None
