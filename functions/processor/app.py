"""Processor: one Distributed Map batch of objects → curated output, quarantine, batch summary."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.core.clients import aws_client
from landfall.core.observability import logger, metrics, tracer
from landfall.core.settings import settings_from_env
from landfall.jobs import job_named
from landfall.process.messages import ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # a summary can be 64 KiB: not a trace annotation
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = settings_from_env(ProcessorSettings)
    summary = process_batch(ProcessorEvent.model_validate(event), aws_client("s3"), settings, job_named(settings.job))
    return summary.model_dump(mode="json", exclude_none=True)
