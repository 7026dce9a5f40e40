"""Reducer: ResultWriter files → run report, reconciliation, redrive manifest, and the run's one commit
to the curated Iceberg table."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.commit.catalog import TableCatalog
from landfall.commit.commits import RunCommitter
from landfall.core.clients import aws_client
from landfall.core.costs import Prices
from landfall.core.observability import logger, metrics, tracer
from landfall.core.settings import settings_from_env
from landfall.jobs import job_named
from landfall.reduce.messages import ReducerEvent, RunReport
from landfall.reduce.reduction import reduce_run
from landfall.reduce.settings import ReducerSettings
from landfall.table.schema import table_of


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = settings_from_env(ReducerSettings)
    job = job_named(settings.job)
    s3 = aws_client("s3")
    committer = None
    if settings.database:
        committer = RunCommitter(TableCatalog(aws_client("glue"), s3), settings.database, table_of(job))
    report = reduce_run(
        ReducerEvent.model_validate(event),
        s3,
        job,
        prices=settings_from_env(Prices),
        memory_mb=settings.memory_mb,
        redrive_with=settings.redrive_with,
        committer=committer,
    )
    return report.model_dump(mode="json", include=RunReport.STATE_FIELDS)
