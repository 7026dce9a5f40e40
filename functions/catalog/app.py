"""Catalog: the custom resource that puts the job's curated Iceberg table (created, or evolved as the
job adds fields), its unique view and the quarantine table in the Glue Data Catalog with the stack,
and removes them with it; and the one that names the stack's database (`Custom::CatalogName`)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.commit.catalog import TableCatalog
from landfall.commit.tables import IcebergEntry
from landfall.core.clients import aws_client
from landfall.core.custom_resource import CustomResourceRequest, CustomResourceResponse, respond
from landfall.core.observability import logger
from landfall.core.settings import settings_from_env
from landfall.jobs import job_named
from landfall.jobs.settings import JobSettings
from landfall.process.profile import profiler_of
from landfall.table.catalog import CatalogResource
from landfall.table.quarantine import QUARANTINE_TABLE
from landfall.table.schema import table_of


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = CustomResourceRequest.model_validate(event)
    try:
        job = job_named(settings_from_env(JobSettings).job)
        if request.request_type != "Delete":  # a job whose quality rules cannot be checked is not deployed
            profiler_of(job)
        glue = aws_client("glue")
        curated = IcebergEntry(TableCatalog(glue, aws_client("s3")), table_of(job))
        response = CatalogResource(glue, curated, QUARANTINE_TABLE).handle(request)
    except Exception as error:  # CloudFormation must hear of it, or the stack waits an hour
        logger.exception("catalog request failed")
        failed_id = request.physical_resource_id or f"{CatalogResource.PREFIX}-failed"
        response = CustomResourceResponse(status="FAILED", physical_resource_id=failed_id, reason=str(error))
    respond(request, response)
    return response.model_dump()
