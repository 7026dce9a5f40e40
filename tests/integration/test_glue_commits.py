"""The emulator's Glue refuses an UpdateTable made at a stale `VersionId`, as AWS's does, so that
concurrent Iceberg-style commits (read the version, write at it, retry on conflict) lose nothing."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

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
