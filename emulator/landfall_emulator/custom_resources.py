"""CloudFormation's side of a custom resource, locally: the request sent to the resource's function,
and its response read back from the presigned S3 URL the function PUTs it to, as on AWS."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from landfall_emulator.template import Stack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RESPONSES_BUCKET = "landfall-local-cloudformation-responses"


class CustomResourceFailed(RuntimeError):
    """The resource's function answered FAILED, or not at all."""


def request(stack: Stack, logical_id: str, request_type: str, response_url: str) -> dict[str, Any]:
    properties = stack.resolve(stack.resources[logical_id]["Properties"])
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": response_url,
        "StackId": stack.stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": stack.resources[logical_id]["Type"],
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = stack.custom_resources[logical_id][0]
    return event


def run(stack: Stack, s3: S3Client, invoke, logical_id: str, request_type: str = "Create") -> None:
    """Send the request to the resource's function (`invoke(function name, event)`), wait for its
    response and record the resource's physical id and Data on the stack. A resource created already
    (a check the others waited on) is not created twice."""
    if request_type == "Create" and logical_id in stack.custom_resources:
        return
    key = f"{logical_id}/{uuid.uuid4()}"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": RESPONSES_BUCKET, "Key": key}, ExpiresIn=3600)
    event = request(stack, logical_id, request_type, url)
    invoke(event["ServiceToken"].rsplit(":", 1)[-1], event)
    try:
        response = json.loads(s3.get_object(Bucket=RESPONSES_BUCKET, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        raise CustomResourceFailed(f"{logical_id}: its function sent no response") from None
    if response["Status"] != "SUCCESS":
        raise CustomResourceFailed(f"{logical_id}: {response.get('Reason')}")
    if request_type == "Delete":
        stack.custom_resources.pop(logical_id, None)
    else:
        stack.custom_resources[logical_id] = (response["PhysicalResourceId"], response.get("Data", {}))
