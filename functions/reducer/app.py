"""Reducer: ResultWriter files → run report, reconciliation and redrive manifest."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.clients import aws_client
from landfall.jobs import default_job
from landfall.models import ReducerEvent
from landfall.observability import logger, metrics, tracer
from landfall.reduction import reduce_run, summary_for_state


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = reduce_run(ReducerEvent.model_validate(event), aws_client("s3"), default_job())
    return summary_for_state(report)
