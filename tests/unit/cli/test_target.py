"""How the `landfall` command finds a deployed stack: its Outputs and the manifest writer's settings."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from landfall_cli.target import TargetError, aws_target


def _function(name: str, memory: int, environment: dict[str, str]) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context): return event\n")
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        MemorySize=memory,
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )
    return name


def _stack(outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="landfall", TemplateBody=json.dumps(template))


def test_a_deployed_stack_gives_the_pipelines_settings(aws):
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:landfall-pipeline"
    writer = _function(
        "landfall-writer",
        256,
        {"STATE_MACHINE_ARN": arn, "PIPELINE_BUCKET": "pipe", "KEY_PREFIX": "raw/", "MAX_CONCURRENCY": "40"},
    )
    _stack(
        {
            "LandingBucketName": "landing",
            "ManifestWriterFunctionName": writer,
            "ProcessorFunctionName": _function("landfall-processor", 3538, {}),
            "ReducerFunctionName": _function("landfall-reducer", 1024, {}),
        }
    )
    target = aws_target("landfall", region="us-east-1")
    assert (target.state_machine_arn, target.pipeline_bucket, target.landing_bucket) == (arn, "pipe", "landing")
    assert target.config.max_concurrency == 40 and target.settings.key_prefix == "raw/"
    assert (target.processor_memory_mb, target.reducer_memory_mb) == (3538, 1024)


def test_a_stack_of_an_older_template_is_named(aws):
    _stack({"LandingBucketName": "landing"})
    with pytest.raises(TargetError, match="lacks the outputs"):
        aws_target("landfall", region="us-east-1")


def test_a_missing_stack_is_named(aws):
    with pytest.raises(TargetError, match="stack absent"):
        aws_target("absent", region="us-east-1")
