"""Catalog: the custom resource that puts the job's curated table, its unique view and the quarantine
table in the Glue Data Catalog, with the stack, and removes them with it; and the one that names the
stack's database (`Custom::CatalogName`)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.catalog import CatalogResource
from landfall.clients import aws_client
from landfall.custom_resource import CustomResourceRequest, CustomResourceResponse, respond
from landfall.jobs import job_named
from landfall.observability import logger
from landfall.quarantine import QUARANTINE_TABLE
from landfall.schema import table_of
from landfall.settings import JobSettings, settings_from_env


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = CustomResourceRequest.model_validate(event)
    try:
        job = job_named(settings_from_env(JobSettings).job)
        response = CatalogResource(aws_client("glue"), table_of(job), QUARANTINE_TABLE).handle(request)
    except Exception as error:  # CloudFormation must hear of it, or the stack waits an hour
        logger.exception("catalog request failed")
        failed_id = request.physical_resource_id or f"{CatalogResource.PREFIX}-failed"
        response = CustomResourceResponse(status="FAILED", physical_resource_id=failed_id, reason=str(error))
    respond(request, response)
    return response.model_dump()
