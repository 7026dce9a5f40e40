"""A curated table on an in-process moto, filled by runs whose files the processor's writer made; nothing
here imports pyarrow, so a subprocess without it can use the same helpers."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import UTC, datetime

import boto3
import msgspec
import pytest
from arro3.core import RecordBatchReader

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import Backoff, commit_run
from landfall.commit.objects import RunFile
from landfall.commit.tables import put_table
from landfall.core.layout import curated_key, object_digest
from landfall.jobs import default_job
from landfall.process.columnar import Source, to_batch
from landfall.process.curated import write_parquet_file
from landfall.table.partitioning import HOURLY
from landfall.table.schema import table_of
from landfall.upkeep.compaction_plan import plan_compaction
from landfall.upkeep.messages import CompactionPlan, CompactionSettings

BUCKET = "pipeline"
JOB = default_job()
EVENTS = table_of(JOB)
LOCATION = f"s3://{BUCKET}/curated/events"
IDENTIFIER = "db.events"
HOUR = "dt=2026-11-22/hour=13"
NEXT_HOUR = "dt=2026-11-22/hour=14"
TARGET = 64 * 1024
SETTINGS = CompactionSettings(target_bytes=TARGET)  # small: under 48 KiB; grace: an hour
LATER = datetime(2026, 11, 23, tzinfo=UTC)  # the clock: both hours closed long ago
NO_WAITS = Backoff(sleep=lambda _: None)
_DECODER = msgspec.json.Decoder(JOB.record_type)
TYPES = ["page_view", "click", "add_to_cart", "purchase", "search"]


def make_table(glue, s3) -> TableCatalog:
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": "db"})
    catalog = TableCatalog(glue, s3)
    put_table(catalog, IDENTIFIER, EVENTS, LOCATION)
    return catalog


@pytest.fixture
def glue(aws: None):
    return boto3.client("glue", region_name="us-east-1")


@pytest.fixture
def catalog(glue, s3) -> TableCatalog:
    return make_table(glue, s3)


def event_lines(source: str, partition: str, rows: int) -> list[bytes]:
    """Distinct events of the partition's hour, with values as varied as real ones (seeded)."""
    hour, draw = int(partition[-2:]), random.Random(source)
    return [
        (
            f'{{"event_id":"{draw.getrandbits(128):032x}","ts":"2026-11-22T{hour:02d}:{draw.randrange(60):02d}:'
            f'{draw.randrange(60):02d}.{draw.randrange(10**6):06d}Z","type":"{draw.choice(TYPES)}",'
            f'"value":{draw.uniform(0, 1000):.3f},"user_id":"u-{draw.randrange(5000)}",'
            f'"props":{{"path":"/p/{draw.randrange(10**6)}","n":{n}}}}}'
        ).encode()
        for n in range(rows)
    ]


def write_file(s3, run: str, partition: str, number: int, rows: int = 300) -> RunFile:
    """A file of the run as the processor writes it, holding the rows of one source object of its own."""
    source = f"raw/{run}/{partition}/{number}.gz"
    records = [_DECODER.decode(line) for line in event_lines(f"{run}-{number}", partition, rows)]
    batch = to_batch(EVENTS, records, list(range(1, rows + 1)), Source("landing", source))
    buffer = io.BytesIO()
    write_parquet_file(EVENTS, RecordBatchReader.from_batches(EVENTS.arrow_schema, [batch]), buffer)
    key = curated_key("events", run, partition, f"batch-{number}")
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return RunFile(key, rows, len(buffer.getvalue()), partition, (object_digest("landing", source),))


def commit_files(catalog, s3, run: str, files: int, partition: str = HOUR, rows: int = 300) -> list[RunFile]:
    """A run of `files` files in `partition`, written and committed."""
    written = [write_file(s3, run, partition, n, rows) for n in range(files)]
    commit_run(catalog, IDENTIFIER, run, written, (BUCKET, HOURLY), NO_WAITS)
    return written


def declared(run: str, sizes: list[int], partition: str = HOUR) -> list[RunFile]:
    """Files described to the table but never written: enough for planning, which reads manifests only."""
    return [
        RunFile(curated_key("events", run, partition, str(n)), 10, size, partition, (object_digest(run, str(n)),))
        for n, size in enumerate(sizes)
    ]


def plan(
    catalog, upkeep_id: str = "upkeep-1", now: datetime = LATER, settings: CompactionSettings = SETTINGS
) -> CompactionPlan:
    return plan_compaction(catalog, "db", EVENTS, BUCKET, upkeep_id, settings, now)


class RacingCatalog(TableCatalog):
    """The catalog, with another writer's commit landing right after this one's `race_at`-th load: between
    what its caller read and what it commits."""

    def __init__(self, glue, s3, race_at: int, race: Callable[[], object]) -> None:
        super().__init__(glue, s3)
        self.loads, self.race_at, self.race = 0, race_at, race

    def load_table(self, identifier):
        table = super().load_table(identifier)
        self.loads += 1
        if self.loads == self.race_at:
            self.race()
        return table
