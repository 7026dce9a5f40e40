"""One housekeeping pass over the curated table: old snapshots expired, files that nothing may need deleted,
and the current snapshot's manifests packed when there are many. In this order, so the sweep sees what
the expiry released; the manifests a rewrite replaces stay, listed by the snapshots before it, until those
expire in a later pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from landfall.commit.commits import Backoff
from landfall.upkeep.expiry import KEEP_LAST, RETENTION, expire_snapshots
from landfall.upkeep.housekeeping_messages import Housekeeping
from landfall.upkeep.manifest_rewrite import rewrite_manifests
from landfall.upkeep.orphan_files import Windows, remove_orphan_files

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyiceberg.catalog import Catalog


@dataclass(frozen=True)
class Policy:
    """How long the table keeps what (each default explained where it is defined)."""

    retention: timedelta = RETENTION  # snapshots replaced longer ago than this are expired
    keep_last: int = KEEP_LAST  # ... but never the newest this many
    windows: Windows = field(default_factory=Windows)  # how old an unreferenced file must be to go
    max_manifests: int | None = None  # rewritten beyond this (None: the table's min-count-to-merge)


def housekeep(
    catalog: Catalog,
    identifier: str,
    s3_client: S3Client,
    bucket: str,
    now: datetime,
    policy: Policy | None = None,
    backoff: Backoff | None = None,
) -> Housekeeping:
    """Expire, sweep, rewrite the table `identifier` whose files are in `bucket`, as of `now`."""
    policy = policy or Policy()
    expiry = expire_snapshots(catalog, identifier, s3_client, now, policy.retention, policy.keep_last, backoff)
    orphans = remove_orphan_files(catalog, identifier, s3_client, bucket, now, policy.windows)
    manifests = rewrite_manifests(catalog, identifier, policy.max_manifests, backoff=backoff)
    return Housekeeping(expiry=expiry, orphans=orphans, manifests=manifests)
