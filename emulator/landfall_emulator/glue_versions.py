"""Glue's UpdateTable honours `VersionId`, as AWS's does.

An Iceberg commit to the Glue catalog is an UpdateTable made at the table version its writer read: if
another commit moved the table on meanwhile, Glue refuses it with ConcurrentModificationException and
the writer retries on the new version (pyiceberg's CommitFailedException). moto 5.2.5 ignores the
parameter, so concurrent commits all "succeed" and all but the last are lost (16 writers: 15 lost).
Here the version check and the update are one step under a lock, as they are in Glue.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.glue.exceptions import GlueClientError

_UPDATES = threading.Lock()


class ConcurrentModificationException(GlueClientError):
    def __init__(self, message: str) -> None:
        super().__init__("ConcurrentModificationException", message)


def update_table(self: Any) -> ActionResult:
    """moto's GlueResponse.update_table, refusing an update made at a version that is not the table's."""
    database_name = self.parameters.get("DatabaseName")
    table_input = self.parameters.get("TableInput")
    expected = self.parameters.get("VersionId")
    with _UPDATES:
        table = self.glue_backend.get_table(database_name, table_input["Name"])
        current = table.as_dict()["VersionId"]
        if expected is not None and str(expected) != current:
            raise ConcurrentModificationException(
                f"Update table failed due to concurrent modifications: version {expected} is not {current}"
            )
        self.glue_backend.update_table(database_name, table_input["Name"], table_input)
    return EmptyResult()
