"""Where a `landfall` command acts: a deployed stack on AWS, or the emulator `make demo` keeps running.

Both are found the same way: the stack's Outputs name the buckets and functions, and the manifest
writer's environment holds the pipeline's settings (state machine, prefixes, batch sizes,
concurrency, tolerance), so a backfill starts runs exactly as the notification path does.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from landfall.core.settings import parse_settings
from landfall.ingest.manifests import RunStarter
from landfall.ingest.messages import RunConfig
from landfall.ingest.settings import ManifestWriterSettings
from landfall.jobs import DEFAULT_JOB
from landfall.jobs.settings import JobSettings
from landfall_cli.aws_errors import session as aws_session
from landfall_cli.aws_errors import setup_problem
from landfall_cli.options import work_dir

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


class TargetError(RuntimeError):
    """The stack or the local emulator cannot be found."""


@dataclass(frozen=True)
class Target:
    s3: S3Client
    sfn: SFNClient
    athena: AthenaClient
    glue: GlueClient
    outputs: dict[str, str]
    settings: ManifestWriterSettings
    processor_memory_mb: int
    reducer_memory_mb: int
    where: str  # for messages: "stack NAME in REGION" or "the local emulator at URL"
    job: str = DEFAULT_JOB  # the deployment's LANDFALL_JOB: its table's name and columns

    @property
    def state_machine_arn(self) -> str:
        return self.settings.state_machine_arn

    @property
    def pipeline_bucket(self) -> str:
        return self.settings.pipeline_bucket

    @property
    def landing_bucket(self) -> str:
        return self.outputs["LandingBucketName"]

    @property
    def config(self) -> RunConfig:
        return self.settings.run_config()

    def starter(self) -> RunStarter:
        """Starts runs exactly as the deployment's manifest writer does."""
        return RunStarter(self.s3, self.sfn, self.state_machine_arn, self.pipeline_bucket, self.config)


def local_state_path() -> Path:
    """LANDFALL_LOCAL_STATE, else the project's: the same from any of its folders."""
    override = os.environ.get("LANDFALL_LOCAL_STATE")
    return Path(override) if override else work_dir() / "local.json"


def write_local_state(path: Path, endpoint_url: str, region: str, outputs: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"endpoint_url": endpoint_url, "region": region, "outputs": outputs, "pid": os.getpid()}
    path.write_text(json.dumps(state, indent=2))


def _alive(state: dict[str, Any]) -> bool:
    """Whether the emulator the state describes still runs and answers (its process may have died)."""
    try:
        os.kill(int(state["pid"]), 0)
    except (KeyError, ValueError, ProcessLookupError, PermissionError):
        return False
    address = state["endpoint_url"].removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((address[0], int(address[1])), timeout=2).close()
    except OSError:
        return False
    return True


def local_target(path: Path | None = None) -> Target:
    path = path or local_state_path()
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise TargetError(
            f"no local emulator is running ({path} is missing): start one with `make demo ARGS='--keep 30'`"
        ) from None
    except ValueError:
        state = {}
    if not _alive(state):
        path.unlink(missing_ok=True)
        raise TargetError(
            f"the local emulator that {path} named has stopped (its state is removed): start one with "
            "`make demo ARGS='--keep 30'`"
        )
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=state["region"])
    return _target(session, state["outputs"], f"the local emulator at {state['endpoint_url']}", state["endpoint_url"])


def aws_target(stack: str, region: str | None = None, profile: str | None = None) -> Target:
    session = aws_session(region, profile)
    cloudformation = session.client("cloudformation")
    where = f"stack {stack} in {session.region_name}"
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        raise TargetError(_stack_problem(where, error)) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return _target(session, outputs, where)


def _stack_problem(where: str, error: ClientError) -> str:
    """DescribeStacks answers ValidationError for a stack this account and region do not hold."""
    if error.response.get("Error", {}).get("Code") == "ValidationError":
        return f"{where} does not exist: check --stack, --region and --profile"
    return setup_problem(error) or f"{where}: {error}"


LANDFALL_OUTPUTS = ("LandingBucketName", "ManifestWriterFunctionName", "ProcessorFunctionName", "ReducerFunctionName")


def _check_outputs(outputs: dict[str, str], where: str) -> None:
    missing = [name for name in LANDFALL_OUTPUTS if name not in outputs]
    if len(missing) == len(LANDFALL_OUTPUTS):
        raise TargetError(f"{where} is not a Landfall stack (no {', '.join(missing)} outputs): check --stack")
    if missing:
        raise TargetError(f"{where} lacks the outputs {missing}: deploy this version of the template")


def _target(session: boto3.Session, outputs: dict[str, str], where: str, endpoint_url: str | None = None) -> Target:
    lambda_ = session.client("lambda", endpoint_url=endpoint_url)
    _check_outputs(outputs, where)
    writer = lambda_.get_function_configuration(FunctionName=outputs["ManifestWriterFunctionName"])
    environment = writer.get("Environment", {}).get("Variables", {})
    settings = parse_settings(ManifestWriterSettings, environment)
    memory = {
        name: lambda_.get_function_configuration(FunctionName=outputs[f"{name}FunctionName"])["MemorySize"]
        for name in ("Processor", "Reducer")
    }
    return Target(
        s3=session.client("s3", endpoint_url=endpoint_url),
        sfn=session.client("stepfunctions", endpoint_url=endpoint_url),
        athena=session.client("athena", endpoint_url=endpoint_url),
        glue=session.client("glue", endpoint_url=endpoint_url),
        outputs=outputs,
        settings=settings,
        processor_memory_mb=memory["Processor"],
        reducer_memory_mb=memory["Reducer"],
        where=where,
        job=parse_settings(JobSettings, environment).job,
    )
