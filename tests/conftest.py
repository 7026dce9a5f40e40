"""Fixtures shared by every test: sample events, moto-backed clients, the embedded emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from landfall_emulator.emulator import Emulator
from tests.paths import EVENTS, TEMPLATE_PATH


def load_event(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS / relative).read_text())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process moto for unit tests: no endpoint, no server."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None):
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def sfn(aws: None):
    return boto3.client("stepfunctions", region_name="us-east-1")


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One per test package that asks for it, stopped when the package's tests end: unit tests'
    in-process moto must not meet its threads."""
    overrides = {"IngestBatchSize": "1000", "IngestBatchingWindowSeconds": "1", "MaxItemsPerBatch": "2"}
    logs = tmp_path_factory.mktemp("function-logs")
    with Emulator(template=TEMPLATE_PATH, parameter_overrides=overrides, log_dir=logs) as running:
        yield running
