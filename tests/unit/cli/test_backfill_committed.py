"""A backfill leaves out the object versions the curated table holds already, read from the index its
current snapshot names, so a backfill over what notifications (or an earlier backfill) brought in
processes only what is new; in a versioned bucket it names each object's current version, as its
notification does."""

from __future__ import annotations

import boto3
import pytest

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import Backoff, commit_run
from landfall.commit.objects import ObjectIndex, RunFile, committed_objects
from landfall.commit.tables import put_table
from landfall.core.layout import curated_key, object_digest
from landfall.ingest.manifests import RunStarter
from landfall.ingest.messages import RunConfig
from landfall.jobs import default_job
from landfall.table.partitioning import HOURLY
from landfall.table.schema import table_of
from landfall_cli.backfill import Backfill, list_items

CONFIG = RunConfig(max_concurrency=10, max_items_per_batch=4, max_batch_bytes=10_000, tolerated_failure_percentage=5)
HOUR = "dt=2026-11-22/hour=13"


@pytest.fixture
def clients(aws: None):
    s3, glue = boto3.client("s3", region_name="us-east-1"), boto3.client("glue", region_name="us-east-1")
    for bucket in ("landing", "pipeline"):
        s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": "db"})
    return s3, glue


def _commit(s3, glue, run_id: str, objects: list[tuple[str, str | None]]) -> None:
    """One file of a run holding the rows of `objects` (key, version), committed as the reducer does."""
    catalog = TableCatalog(glue, s3)
    put_table(catalog, "db.events", table_of(default_job()), "s3://pipeline/curated/events")
    digests = tuple(object_digest("landing", key, version) for key, version in objects)
    files = [RunFile(curated_key("events", run_id, HOUR, "batch"), 10, 1000, HOUR, digests)]
    commit_run(catalog, "db.events", run_id, files, ("pipeline", HOURLY), Backoff(sleep=lambda _: None))


def _backfill(s3, glue) -> Backfill:
    backfill = Backfill(RunStarter(s3, None, "", "pipeline", CONFIG), "raw/", ".gz", dry_run=True)  # type: ignore[arg-type]
    backfill.committed = committed_objects(glue, s3, "db", "events")
    backfill.run(list_items(s3, "landing", ["raw/"]))
    return backfill


def test_objects_the_table_holds_are_left_out_and_counted(clients):
    s3, glue = clients
    for name in "abcd":
        s3.put_object(Bucket="landing", Key=f"raw/{name}.gz", Body=b"x" * 10)
    assert len(committed_objects(glue, s3, "db", "events")) == 0  # no table yet: nothing left out
    _commit(s3, glue, "notification-1", [("raw/a.gz", None), ("raw/b.gz", None)])
    _commit(s3, glue, "notification-2", [("raw/c.gz", None)])  # the index of the current snapshot has all three
    backfill = _backfill(s3, glue)
    (planned,) = backfill.runs
    assert (planned.plan.objects, backfill.in_the_table, backfill.skipped) == (1, 3, 0)


def test_a_versioned_bucket_is_listed_by_current_version_as_notifications_name_them(clients):
    s3, glue = clients
    s3.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket="landing", Key="raw/a.gz", Body=b"old")["VersionId"]
    current = s3.put_object(Bucket="landing", Key="raw/a.gz", Body=b"new one")["VersionId"]
    other = s3.put_object(Bucket="landing", Key="raw/b.gz", Body=b"x")["VersionId"]
    listed = [(i.key, i.version_id, i.size) for i in list_items(s3, "landing", ["raw/"])]
    assert listed == [("raw/a.gz", current, 7), ("raw/b.gz", other, 1)] and old != current
    _commit(s3, glue, "notification-1", [("raw/a.gz", current), ("raw/b.gz", None)])  # b: not this version
    backfill = _backfill(s3, glue)
    assert (backfill.runs[0].plan.objects, backfill.in_the_table) == (1, 1)


def test_an_index_reads_back_as_written():
    index = ObjectIndex().with_objects([5, 3, 9, 3])
    assert list(ObjectIndex.from_bytes(index.to_bytes()).digests) == [3, 5, 9]
