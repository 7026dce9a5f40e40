"""One line for an AWS setup that a `--stack` command cannot use, instead of botocore's traceback.

botocore raises these from deep inside a call: a client's creation (no region, an unknown profile),
its first request (no credentials) or any later one (a session that expires mid-command).
`commands.run()` prints the line and exits 2, as for a stack it cannot find; any other error is a bug
to see in full, so it stays a traceback.
"""

from __future__ import annotations

import os

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

SET_REGION = "set AWS_REGION (or the profile's region with `aws configure`)"
NO_REGION = f"no AWS region: {SET_REGION} or pass --region"
HOW_TO_LOG_IN = "run `aws configure` / `aws sso login`, or set AWS_PROFILE / pass --profile"
SSO_EXPIRED = "the AWS SSO session has expired (or was never started): run `aws sso login` for the profile in use"

# the codes as each protocol spells them: query (CloudFormation, STS), rest-xml (S3), json (Step Functions)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
REJECTED_CODES = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})


def session(region: str | None = None, profile: str | None = None) -> boto3.Session:
    """A session whose region is --region, else AWS_REGION (which the AWS CLI v2 and Lambda set, and
    botocore does not read), else botocore's own (AWS_DEFAULT_REGION, the profile's)."""
    return boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None, profile_name=profile)


def setup_problem(error: BotoCoreError | ClientError) -> str | None:
    """What is missing or wrong in the AWS setup and how to set it, in one line; None if not the setup."""
    if isinstance(error, ClientError):
        return _refused(error)
    if isinstance(error, NoRegionError):
        return NO_REGION
    if isinstance(error, ProfileNotFound):
        profile = error.kwargs.get("profile")
        return f"no AWS profile {profile!r}: pass --profile or set AWS_PROFILE to one of `aws configure list-profiles`"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials: {HOW_TO_LOG_IN}"
    if isinstance(error, SSOError | TokenRetrievalError):
        return SSO_EXPIRED
    if isinstance(error, CredentialRetrievalError):
        return f"no AWS credentials from {error.kwargs.get('provider')} ({_one_line(str(error))}): {HOW_TO_LOG_IN}"
    return None


def _refused(error: ClientError) -> str | None:
    """AWS answered, but refused the credentials: expired, unknown or without the permission."""
    code = error.response.get("Error", {}).get("Code", "")
    if code in EXPIRED_CODES:
        return f"the AWS session has expired ({code}): renew it — {HOW_TO_LOG_IN}"
    if code in REJECTED_CODES:
        return f"AWS does not accept these credentials ({code}): {HOW_TO_LOG_IN}"
    if code in DENIED_CODES:
        return f"AWS denied {error.operation_name} ({code}): use a profile allowed to operate the stack (--profile)"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
