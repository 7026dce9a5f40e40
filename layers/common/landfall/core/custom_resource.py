"""CloudFormation custom resources: the request a stack operation sends, and the response CloudFormation
waits for at the request's presigned URL (without one the stack would wait an hour)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landfall.core.observability import logger

RESPONSE_TIMEOUT_S = 30


class CustomResourceRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    response_url: str = Field(alias="ResponseURL")
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")
    resource_type: str = Field(default="", alias="ResourceType")  # one function may serve several kinds
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId")
    properties: dict[str, Any] = Field(default_factory=dict, alias="ResourceProperties")


class CustomResourceResponse(BaseModel):
    status: Literal["SUCCESS", "FAILED"]
    physical_resource_id: str
    reason: str = ""
    data: dict[str, str] = Field(default_factory=dict)


def _checked_url(url: str) -> str:
    """CloudFormation's presigned S3 URL (https), or the local emulator's on the loopback interface."""
    if url.startswith("https://") or url.startswith("http://127.0.0.1:"):
        return url
    raise ValueError(f"not a response URL CloudFormation gives: {url[:60]}")


def respond(request: CustomResourceRequest, response: CustomResourceResponse) -> None:
    body = json.dumps(
        {
            "Status": response.status,
            "Reason": response.reason[:1000] or "see the function's log",
            "PhysicalResourceId": response.physical_resource_id,
            "StackId": request.stack_id,
            "RequestId": request.request_id,
            "LogicalResourceId": request.logical_resource_id,
            "Data": response.data,
        }
    ).encode()
    sent = urllib.request.Request(  # noqa: S310 - the scheme is checked
        _checked_url(request.response_url), data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(sent, timeout=RESPONSE_TIMEOUT_S) as answer:  # noqa: S310 - checked above
        answer.read()
    logger.info("responded to CloudFormation", extra={"status": response.status, "request": request.request_type})
