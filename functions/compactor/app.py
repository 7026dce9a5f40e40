"""Compactor: a child of the maintenance run's map. One partition's small files rewritten as files of
about the target size and committed in their place in one snapshot, or given up."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.commit.catalog import TableCatalog
from landfall.core.clients import aws_client
from landfall.core.observability import logger, tracer
from landfall.core.settings import settings_from_env
from landfall.jobs import job_named
from landfall.table.schema import table_of
from landfall.upkeep.maintenance import compact_item
from landfall.upkeep.messages import CompactionItem
from landfall.upkeep.settings import UpkeepSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = settings_from_env(UpkeepSettings)
    s3 = aws_client("s3")
    item = CompactionItem.model_validate(event)
    catalog = TableCatalog(aws_client("glue"), s3)
    result = compact_item(item, s3, catalog, table_of(job_named(settings.job)), settings.memory_mb)
    return result.model_dump(mode="json")
