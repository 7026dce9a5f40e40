"""AWS clients, built on first use (never at import) and reused across warm invocations.

botocore's own session, not boto3's: boto3 adds resources and s3transfer (~60 ms of every cold start)
that no function uses. botocore honours `AWS_ENDPOINT_URL`, so the same code reaches AWS or the local
emulator.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config
from botocore.session import get_session

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@cache
def aws_client(service: str) -> Any:
    return get_session().create_client(service, config=_CONFIG)
