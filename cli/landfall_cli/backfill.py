"""`landfall backfill`: process objects already in the landing bucket, by prefix or by time range.

Listing is paginated and streamed: each run's manifest is built (and spooled to disk when large) as
keys arrive, so memory does not grow with the number of keys. Keys come back from S3 in order, which
is the manifest's order, so the run ids are the same whenever the same objects are listed again: a
repeated backfill starts nothing new. Object versions the curated table holds already (its index of
committed objects) are left out before any run is planned: a backfill over a range that notifications,
or an earlier backfill, brought in processes only what is new.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from landfall.commit.objects import ObjectIndex
from landfall.core.layout import object_digest
from landfall.ingest.manifests import ManifestBuilder, RunStarter, StartedRun
from landfall.ingest.messages import ManifestItem
from landfall.ingest.notifications import wanted
from landfall_cli.plan import RunPlan

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LIST_PAGE_KEYS = 1000


def hour_prefixes(prefix: str, since: datetime, until: datetime) -> Iterator[str]:
    """Firehose's `<prefix>YYYY/MM/DD/HH/` folders from `since` up to `until` (exclusive), whole days
    as one prefix each, in key order."""
    since = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    until = until.astimezone(UTC)
    moment = since
    while moment < until:
        day_end = moment.replace(hour=0) + timedelta(days=1)
        if moment.hour == 0 and day_end <= until:
            yield f"{prefix}{moment:%Y/%m/%d}/"
            moment = day_end
        else:
            yield f"{prefix}{moment:%Y/%m/%d/%H}/"
            moment += timedelta(hours=1)


def list_items(
    s3_client: S3Client, bucket: str, prefixes: list[str], counter: list[int] | None = None
) -> Iterator[ManifestItem]:
    """Every object under the prefixes, page by page (`counter[0]` counts LIST requests). In a versioned
    bucket each object's current version, named as its notification names it: the table's index knows
    an object version by its id, so a backfill of objects notifications brought finds them there."""
    versioned = s3_client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    operation, entries = ("list_object_versions", "Versions") if versioned else ("list_objects_v2", "Contents")
    paginator = s3_client.get_paginator(operation)  # type: ignore[call-overload]  # one of two literals
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_KEYS}):
            if counter is not None:
                counter[0] += 1
            for obj in page.get(entries, []):
                if obj.get("IsLatest", True):
                    yield ManifestItem(
                        bucket=bucket,
                        key=obj["Key"],
                        size=obj["Size"],
                        etag=obj.get("ETag", "").strip('"'),
                        version_id=obj.get("VersionId") if versioned else None,
                    )


@dataclass
class PlannedRun:
    plan: RunPlan
    started: StartedRun | None = None  # None: a dry run


@dataclass
class Backfill:
    """Splits listed items into runs of at most `objects_per_run` and starts each (unless a dry run)."""

    starter: RunStarter
    key_prefix: str
    key_suffix: str
    objects_per_run: int = 100_000
    dry_run: bool = False
    committed: ObjectIndex = field(default_factory=ObjectIndex)  # `committed_objects`: what the table holds
    runs: list[PlannedRun] = field(default_factory=list)
    skipped: int = 0
    in_the_table: int = 0  # listed object versions the table holds already: processing them adds nothing

    def run(self, items: Iterator[ManifestItem]) -> list[PlannedRun]:
        builder: ManifestBuilder | None = None
        plan: RunPlan | None = None
        for item in items:
            if not wanted(item, self.key_prefix, self.key_suffix):
                self.skipped += 1
                continue
            if object_digest(item.bucket, item.key, item.version_id) in self.committed:
                self.in_the_table += 1
                continue
            if plan is None or plan.objects >= self.objects_per_run:
                self._finish(builder, plan)
                builder = None if self.dry_run else self.starter.builder()
                plan = RunPlan(self.starter.config)
            plan.add(item)
            if builder is not None:
                builder.add(item)
        self._finish(builder, plan)
        return self.runs

    def _finish(self, builder: ManifestBuilder | None, plan: RunPlan | None) -> None:
        if plan is None or not plan.objects:
            return
        started = self.starter.start(builder, "backfill") if builder is not None else None
        self.runs.append(PlannedRun(plan, started))
