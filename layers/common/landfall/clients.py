"""AWS clients, built on first use (never at import) and reused across warm invocations.

boto3 honours `AWS_ENDPOINT_URL`, so the same code reaches AWS or the local emulator.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@cache
def aws_client(service: str) -> Any:
    make: Any = boto3.client  # typed per service name; the callers name theirs
    return make(service, config=_CONFIG)
