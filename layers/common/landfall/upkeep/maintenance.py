"""A maintenance run's steps, as its state machine runs them: plan (the items of a Distributed Map, each a
partition's group of small files), compact (a child per item: `compaction.compact`), finish (the
children's results added up, a housekeeping pass, the report beside the pipeline's runs').
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from landfall.core.costs import CostEstimate, Prices, Usage, estimate
from landfall.core.layout import report_key, results_prefix, upkeep_items_key
from landfall.core.messages import S3Location
from landfall.core.observability import metrics
from landfall.core.requests import PricedRequests, counting
from landfall.core.results import find_manifest, iter_records, read_manifest
from landfall.upkeep.compaction import compact
from landfall.upkeep.compaction_plan import plan_compaction
from landfall.upkeep.housekeeping import housekeep
from landfall.upkeep.messages import (
    CompactionItem,
    CompactionPlan,
    CompactionResult,
    CompactionTotals,
    UpkeepEvent,
    UpkeepReport,
    UpkeepRequest,
    UpkeepState,
    UpkeepTiming,
)
from landfall.upkeep.report_text import render_upkeep

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyiceberg.catalog import Catalog

    from landfall.table.schema import TableSchema
    from landfall.upkeep.settings import UpkeepSettings

ERRORS_NAMED = 20  # failed children whose error the report quotes (each is in the ResultWriter's files)
# What a run uses beyond its functions' own clients: its state machine's transitions (Plan, AnythingToCompact,
# Compact, Finish, Verdict, Done) and two a child (its start, its one task); the map's ItemReader GET and
# ResultWriter PUTs (a results file and its manifest); the report's two files, written once it is priced.
UPKEEP_TRANSITIONS, CHILD_TRANSITIONS = 6, 2
MAP_GETS, MAP_PUTS, REPORT_PUTS = 1, 2, 2


def _watched(s3_client: S3Client, catalog: Catalog) -> tuple[Any, ...]:
    """The clients whose requests a step pays for: S3's, and the Glue catalog's (pyiceberg's `glue`)."""
    glue = getattr(catalog, "glue", None)
    return (s3_client,) if glue is None else (s3_client, glue)


def _gb_seconds(started: float, memory_mb: int) -> float:
    return (time.monotonic() - started) * memory_mb / 1024


def plan_run(
    request: UpkeepRequest,
    s3_client: S3Client,
    catalog: Catalog,
    table: TableSchema,
    settings: UpkeepSettings,
    now: datetime,
) -> UpkeepState:
    """The items to compact, written a line each for the map to read (none: the map is skipped), with
    what planning used."""
    started = time.monotonic()
    with counting(*_watched(s3_client, catalog)) as requests:
        state = _plan(request, s3_client, catalog, table, settings, now)
    return state.model_copy(
        update={"plan_gb_seconds": _gb_seconds(started, settings.memory_mb), "plan_requests": requests.priced()}
    )


def compact_item(
    item: CompactionItem, s3_client: S3Client, catalog: Catalog, table: TableSchema, memory_mb: int
) -> CompactionResult:
    """A map child: the item compacted (`compaction.compact`), with what it used."""
    started = time.monotonic()
    with counting(*_watched(s3_client, catalog)) as requests:
        result = compact(item, s3_client, catalog, table)
    return result.model_copy(update={"gb_seconds": _gb_seconds(started, memory_mb), "requests": requests.priced()})


def _plan(
    request: UpkeepRequest,
    s3_client: S3Client,
    catalog: Catalog,
    table: TableSchema,
    settings: UpkeepSettings,
    now: datetime,
) -> UpkeepState:
    plan = CompactionPlan(upkeep_id=request.upkeep_id, table=table.name)
    if request.compact:
        plan = plan_compaction(
            catalog, settings.database, table, settings.bucket, request.upkeep_id, settings.compaction(), now
        )
    wanted = set(request.partitions)
    items = [item for item in plan.items if not wanted or item.partition in wanted]
    location = None
    if items:
        location = S3Location(bucket=settings.bucket, key=upkeep_items_key(request.upkeep_id))
        body = "".join(item.model_dump_json() + "\n" for item in items).encode()
        s3_client.put_object(Bucket=location.bucket, Key=location.key, Body=body)
    return UpkeepState(
        upkeep_id=request.upkeep_id,
        table=table.name,
        started_at=now,
        items=location,
        item_count=len(items),
        planned=plan.model_copy(update={"items": []}),
        housekeep=request.housekeep,
    )


def compaction_totals(event: UpkeepEvent, s3_client: S3Client, bucket: str) -> CompactionTotals:
    """The map's children added up, from its ResultWriter files (none when nothing was compacted)."""
    totals = CompactionTotals(items=event.item_count)
    key = find_manifest(s3_client, bucket, results_prefix(event.upkeep_id)) if event.items else None
    if key is None:
        return totals
    for record in iter_records(s3_client, read_manifest(s3_client, bucket, key)):
        if record.kind == "SUCCEEDED" and record.output is not None:
            totals.add(CompactionResult.model_validate_json(record.output))
            continue
        totals.failed += 1
        if len(totals.errors) < ERRORS_NAMED:
            totals.errors.append(f"{_partition(record.input)}: {record.error or record.status}: {record.cause or ''}")
    return totals


def _partition(item_json: str | None) -> str:
    if item_json is None:
        return "a partition"
    return CompactionItem.model_validate(json.loads(item_json)).partition


def upkeep_cost(
    event: UpkeepEvent, totals: CompactionTotals, finish: tuple[PricedRequests, float], prices: Prices
) -> CostEstimate:
    """The run's cost from what its steps used (`finish`: the finish step's requests and GB-seconds); a
    child that failed reported nothing, so its time is not in it."""
    requests, mapped = event.plan_requests + totals.requests + finish[0], event.items is not None
    usage = Usage(
        lambda_requests=2 + totals.items,
        lambda_gb_seconds=event.plan_gb_seconds + totals.gb_seconds + finish[1],
        state_transitions=UPKEEP_TRANSITIONS + CHILD_TRANSITIONS * totals.items,
        s3_gets=requests.s3_gets + MAP_GETS * mapped,
        s3_puts=requests.s3_puts + MAP_PUTS * mapped + REPORT_PUTS,
        glue_requests=requests.glue,
    )
    return estimate(usage, totals.bytes_in, prices)


def finish_run(
    event: UpkeepEvent,
    s3_client: S3Client,
    catalog: Catalog,
    settings: UpkeepSettings,
    now: datetime,
    prices: Prices | None = None,
) -> UpkeepReport:
    """Add the children up, keep the table's house, write the report (`reports/<upkeep_id>/`)."""
    started, housekeeping = time.monotonic(), None
    with counting(*_watched(s3_client, catalog)) as requests:
        totals = compaction_totals(event, s3_client, settings.bucket)
        if event.housekeep:
            identifier = f"{settings.database}.{event.table}"
            housekeeping = housekeep(catalog, identifier, s3_client, settings.bucket, now, settings.policy())
    finish = (requests.priced(), _gb_seconds(started, settings.memory_mb))
    map_error = f"{event.map_error.get('Error')}: {event.map_error.get('Cause')}" if event.map_error else None
    failed = map_error is not None or totals.failed > 0
    reason = map_error or (f"{totals.failed} of {totals.items} partitions failed to compact" if totals.failed else "")
    report = UpkeepReport(
        run_id=event.upkeep_id,
        table=event.table,
        status="FAILED" if failed else "SUCCEEDED",
        status_reason=reason,
        map_error=map_error,
        timing=UpkeepTiming(
            started_at=event.started_at, ended_at=now, seconds=(now - event.started_at).total_seconds()
        ),
        planned=event.planned,
        compaction=totals,
        housekeeping=housekeeping,
        cost=upkeep_cost(event, totals, finish, prices or Prices()),
    )
    s3_client.put_object(Bucket=settings.bucket, Key=report_key(event.upkeep_id), Body=report.model_dump_json(indent=2))
    s3_client.put_object(
        Bucket=settings.bucket, Key=report_key(event.upkeep_id, "report.md"), Body=render_upkeep(report)
    )
    return report


def record_metrics(report: UpkeepReport) -> None:
    """The run's figures as CloudWatch metrics (the finish function flushes them): an alarm watches failures."""
    compaction = report.compaction
    metrics.add_metric(name="UpkeepPartitionsCompacted", unit=MetricUnit.Count, value=compaction.compacted)
    metrics.add_metric(name="UpkeepPartitionsFailed", unit=MetricUnit.Count, value=compaction.failed)
    metrics.add_metric(name="UpkeepFilesReplaced", unit=MetricUnit.Count, value=compaction.files_in)
    metrics.add_metric(name="UpkeepFilesWritten", unit=MetricUnit.Count, value=compaction.files_out)
    metrics.add_metric(name="UpkeepRunsFailed", unit=MetricUnit.Count, value=int(report.status == "FAILED"))
    if report.housekeeping is not None:
        swept = report.housekeeping.orphans
        metrics.add_metric(
            name="UpkeepSnapshotsExpired", unit=MetricUnit.Count, value=report.housekeeping.expiry.expired
        )
        metrics.add_metric(
            name="UpkeepOrphansDeleted", unit=MetricUnit.Count, value=swept.data.deleted + swept.metadata.deleted
        )
