"""The manifest writer's work: notifications in, one manifest and one run out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from landfall.core.observability import metrics
from landfall.ingest.manifests import RunStarter
from landfall.ingest.messages import IngestResult, ManifestItem, NotificationEvent
from landfall.ingest.notifications import items_from_message, select
from landfall.ingest.settings import ManifestWriterSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


def ingest(
    event: NotificationEvent, *, s3_client: S3Client, sfn_client: SFNClient, settings: ManifestWriterSettings
) -> IngestResult:
    """Start the run for an event; for SQS, report malformed messages as partial batch failures."""
    items: list[ManifestItem] = []
    result = IngestResult()
    if (records := event.sqs_records) is not None:
        processor = BatchProcessor(event_type=EventType.SQS)

        def collect(record: SQSRecord) -> None:
            items.extend(items_from_message(record.body))

        with processor(records=records, handler=collect):
            processor.process()
        result = IngestResult.model_validate(processor.response())
    else:
        items.extend(items_from_message(event.model_dump()))

    config = settings.run_config()
    starter = RunStarter(s3_client, sfn_client, settings.state_machine_arn, settings.pipeline_bucket, config)
    selection = select(items, settings.key_prefix, settings.key_suffix)
    started = starter.start_items(selection.items, "notification")
    metrics.add_metric(name="ObjectsNotified", unit=MetricUnit.Count, value=len(items))
    metrics.add_metric(name="ObjectsDropped", unit=MetricUnit.Count, value=sum(selection.dropped.values()))
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=int(started is not None and started.new))
    result.run_id = started.run_id if started else None
    result.objects, result.dropped = len(items), selection.dropped
    return result
