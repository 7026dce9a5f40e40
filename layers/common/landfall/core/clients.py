"""AWS clients, built on first use (never at import) and reused across warm invocations.

botocore's own session, not boto3's: boto3 adds resources and s3transfer (~60 ms of every cold start)
that no function uses. botocore honours `AWS_ENDPOINT_URL`, so the same code reaches AWS or the local
emulator. The overloads type each service the functions use with its stub (`mypy_boto3_*`, dev-only:
the Lambda runtime has none, so they are imported for the type checker alone).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

from botocore.config import Config
from botocore.session import get_session

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@overload
def aws_client(service: Literal["s3"]) -> S3Client: ...
@overload
def aws_client(service: Literal["stepfunctions"]) -> SFNClient: ...
@overload
def aws_client(service: Literal["glue"]) -> GlueClient: ...
@overload
def aws_client(service: Literal["lambda"]) -> LambdaClient: ...
@overload
def aws_client(service: Literal["cloudformation"]) -> CloudFormationClient: ...
def aws_client(service: str) -> Any:
    return _client(service)


@cache
def _client(service: str) -> BaseClient:
    return get_session().create_client(service, config=_CONFIG)
