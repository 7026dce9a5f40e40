"""ConcurrencyCheck: the custom resource every other resource waits on, which fails the stack at once
when its reserved concurrency cannot fit the account's Lambda quota (`landfall.deploy.concurrency`)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from landfall.core.clients import aws_client
from landfall.core.custom_resource import CustomResourceRequest, CustomResourceResponse, respond
from landfall.core.observability import logger
from landfall.deploy.concurrency import PHYSICAL_ID, check


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = CustomResourceRequest.model_validate(event)
    try:
        response = check(request, aws_client("lambda"), aws_client("cloudformation"))
    except Exception as error:  # CloudFormation must hear of it, or the stack waits an hour
        logger.exception("concurrency check failed")
        failed_id = request.physical_resource_id or PHYSICAL_ID
        response = CustomResourceResponse(status="FAILED", physical_resource_id=failed_id, reason=str(error))
    respond(request, response)
    return response.model_dump()
