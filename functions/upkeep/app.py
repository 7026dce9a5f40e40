"""Upkeep: the curated table's maintenance run, its first and last steps. `plan_handler` lists the
partitions to compact (the map's items); `finish_handler` adds the map's children up, keeps the table's
house (snapshots expired, orphans deleted, manifests rewritten) and writes the run's report."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.commit.catalog import TableCatalog
from landfall.core.clients import aws_client
from landfall.core.costs import Prices
from landfall.core.observability import logger, metrics, tracer
from landfall.core.settings import settings_from_env
from landfall.jobs import job_named
from landfall.table.schema import table_of
from landfall.upkeep.maintenance import finish_run, plan_run, record_metrics
from landfall.upkeep.messages import UpkeepEvent, UpkeepReport, UpkeepRequest
from landfall.upkeep.settings import UpkeepSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def plan_handler(event: dict, context: LambdaContext) -> dict:
    settings = settings_from_env(UpkeepSettings)
    s3 = aws_client("s3")
    table = table_of(job_named(settings.job))
    # the execution's input (the schedule's is empty), and its name as the run's id
    request = UpkeepRequest.model_validate({**event["request"], "upkeep_id": event["upkeep_id"]})
    state = plan_run(request, s3, TableCatalog(aws_client("glue"), s3), table, settings, datetime.now(UTC))
    return state.model_dump(mode="json")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def finish_handler(event: dict, context: LambdaContext) -> dict:
    settings = settings_from_env(UpkeepSettings)
    s3 = aws_client("s3")
    upkeep = UpkeepEvent.model_validate(event)
    catalog = TableCatalog(aws_client("glue"), s3)
    report = finish_run(upkeep, s3, catalog, settings, datetime.now(UTC), settings_from_env(Prices))
    record_metrics(report)
    return report.model_dump(mode="json", include=UpkeepReport.STATE_FIELDS)
