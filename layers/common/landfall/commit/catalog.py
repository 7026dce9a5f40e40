"""pyiceberg's Glue catalog, on the functions' injected clients: Glue for the table's entry (its
`metadata_location`, swapped with optimistic concurrency on Glue's `VersionId`), S3 for its files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.io import FileIO

from landfall.commit.storage import S3FileIO

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client


class TableCatalog(GlueCatalog):
    def __init__(self, glue: GlueClient, s3: S3Client) -> None:
        super().__init__("landfall", client=glue)
        self._io = S3FileIO(s3)

    def _load_file_io(self, properties: Any = None, location: str | None = None) -> FileIO:
        return self._io
