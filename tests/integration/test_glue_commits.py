"""The emulator's Glue refuses an UpdateTable made at a stale `VersionId`, as AWS's does, so that
concurrent Iceberg commits (read the version, write at it, retry on conflict) lose nothing: shown with
plain updates, and with the runs' own commits to the curated table."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import Backoff, commit_run
from landfall.commit.definition import RUN_ID
from landfall.commit.objects import RunFile, current_index
from landfall.commit.tables import put_table
from landfall.jobs import default_job
from landfall.process.messages import CuratedFile
from landfall.table.schema import table_of

pytestmark = pytest.mark.emulator

DATABASE = "commits_test"


@pytest.fixture(scope="module")
def glue(emulator):
    client = emulator.client("glue")
    client.create_database(DatabaseInput={"Name": DATABASE})
    yield client
    client.delete_database(Name=DATABASE)


def _table(glue, name: str) -> None:
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": name, "Parameters": {"commits": "[]"}})


def _commit(glue, name: str, commit: str, first_read: threading.Barrier) -> int:
    """Add `commit` to the table's list at the version read, retrying on conflict: the conflicts seen.
    Every committer's first write waits until all have read, so the first round always collides."""
    conflicts = 0
    while True:
        table = glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]
        if not conflicts:
            first_read.wait()
        commits = json.loads(table["Parameters"]["commits"])
        new = {"Name": name, "Parameters": {"commits": json.dumps([*commits, commit])}}
        try:
            glue.update_table(DatabaseName=DATABASE, TableInput=new, VersionId=table["VersionId"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConcurrentModificationException":
                raise
            conflicts += 1
            continue
        return conflicts


def test_an_update_at_a_stale_version_is_refused_and_changes_nothing(glue):
    _table(glue, "stale")
    read = glue.get_table(DatabaseName=DATABASE, Name="stale")["Table"]["VersionId"]
    glue.update_table(DatabaseName=DATABASE, TableInput={"Name": "stale", "Parameters": {"commits": '["a"]'}})
    with pytest.raises(ClientError) as refused:
        glue.update_table(
            DatabaseName=DATABASE, TableInput={"Name": "stale", "Parameters": {"commits": '["b"]'}}, VersionId=read
        )
    assert refused.value.response["Error"]["Code"] == "ConcurrentModificationException"
    assert glue.get_table(DatabaseName=DATABASE, Name="stale")["Table"]["Parameters"]["commits"] == '["a"]'


def test_sixteen_concurrent_committers_lose_no_commit(glue):
    _table(glue, "shared")
    first_read = threading.Barrier(16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        conflicts = list(pool.map(lambda n: _commit(glue, "shared", f"c{n}", first_read), range(16)))
    table = glue.get_table(DatabaseName=DATABASE, Name="shared")["Table"]
    assert sorted(json.loads(table["Parameters"]["commits"])) == sorted(f"c{n}" for n in range(16))
    assert table["VersionId"] == "17"  # created, then one version per commit
    assert sum(conflicts) >= 15  # all read version 1 first: only one of them could write at it


class _FirstReadTogether:
    """A catalog whose first load in each thread waits for every committer's: the first round collides."""

    def __init__(self, catalog, parties: int) -> None:
        self.catalog, self.barrier, self.seen = catalog, threading.Barrier(parties), threading.local()

    def load_table(self, identifier):
        table = self.catalog.load_table(identifier)
        if not getattr(self.seen, "loaded", False):
            self.seen.loaded = True
            self.barrier.wait()
        return table


def test_sixteen_runs_committing_at_once_all_land_in_the_iceberg_table(emulator, glue):
    """The runs' own commit (pyiceberg over the emulator's Glue and S3): every run's snapshot is in the
    table, each once, however many conflicts it took."""
    catalog = TableCatalog(glue, emulator.client("s3"))
    table = table_of(default_job())
    put_table(catalog, f"{DATABASE}.{table.name}", table, f"s3://{emulator.pipeline_bucket}/commits-test/{table.name}")
    racing = _FirstReadTogether(catalog, 16)

    def commit(n: int):
        file = CuratedFile(key=f"commits-test/r{n}.parquet", rows=n + 1, bytes=100, partition="dt=2026-11-22/hour=13")
        where = (emulator.pipeline_bucket, table.partitioning)
        files = [RunFile.of(file, (n,))]  # each run's own object
        return commit_run(racing, f"{DATABASE}.{table.name}", f"r{n}", files, where, Backoff(sleep=lambda _: None))

    with ThreadPoolExecutor(max_workers=16) as pool:
        commits = list(pool.map(commit, range(16)))
    committed = catalog.load_table(f"{DATABASE}.{table.name}")
    assert sorted(s.summary[RUN_ID] for s in committed.metadata.snapshots) == sorted(f"r{n}" for n in range(16))
    assert sum(task.file.record_count for task in committed.scan().plan_files()) == sum(range(1, 17))
    assert sum(c.attempts for c in commits) - 16 >= 15  # all read one version first: one could commit at it
    assert not any(c.earlier for c in commits)
    assert list(current_index(committed).digests) == list(range(16))  # every run's objects, none lost
