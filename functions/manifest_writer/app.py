"""Manifest writer: S3 notifications (via SQS, direct or EventBridge) → manifest → one run."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.core.clients import aws_client
from landfall.core.observability import logger, metrics, tracer
from landfall.core.settings import settings_from_env
from landfall.ingest.ingestion import ingest
from landfall.ingest.messages import NotificationEvent
from landfall.ingest.settings import ManifestWriterSettings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = ingest(
        NotificationEvent.model_validate(event),
        s3_client=aws_client("s3"),
        sfn_client=aws_client("stepfunctions"),
        settings=settings_from_env(ManifestWriterSettings),
    )
    return result.model_dump(mode="json")
