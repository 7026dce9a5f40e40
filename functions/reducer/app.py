"""Reducer: ResultWriter files → run report, reconciliation and redrive manifest."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.clients import aws_client
from landfall.costs import Prices
from landfall.jobs import job_named
from landfall.models import ReducerEvent, RunReport
from landfall.observability import logger, metrics, tracer
from landfall.reduction import reduce_run
from landfall.settings import ReducerSettings, settings_from_env


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = settings_from_env(ReducerSettings)
    report = reduce_run(
        ReducerEvent.model_validate(event),
        aws_client("s3"),
        job_named(settings.job),
        prices=settings_from_env(Prices),
        memory_mb=settings.memory_mb,
        redrive_with=settings.redrive_with,
    )
    return report.model_dump(mode="json", include=RunReport.STATE_FIELDS)
