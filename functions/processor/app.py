"""Processor: one Distributed Map batch of objects → curated output, quarantine, batch summary."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.clients import aws_client
from landfall.jobs import default_job
from landfall.models import ProcessorEvent
from landfall.observability import logger, metrics, tracer
from landfall.processing import process_batch
from landfall.settings import ProcessorSettings, settings_from_env


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    summary = process_batch(
        ProcessorEvent.model_validate(event),
        aws_client("s3"),
        settings_from_env(ProcessorSettings),
        default_job(),
    )
    return summary.model_dump(mode="json")
