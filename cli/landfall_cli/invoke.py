"""`landfall invoke`: one function as `sam build` left it, run as Lambda runs it, without a container.

The Runtime Interface Emulator that ships in the SAM CLI package (the one `sam local invoke` runs in a
container) serves the invoke API on loopback and runs awslambdaric under this python in the built
function's folder: the function first on the path, then the built layer, then only what the python3.13
runtime itself provides (no site-packages). Handler, memory, timeout and environment are the emulated
Lambda function's, so the function sees the same stack as in `make demo`; its AWS is the emulator.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import samcli

from landfall_cli.samples import cloudformation_response, prepare
from landfall_emulator.emulator import Emulator, wait_for

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

BUILD = Path(".aws-sam", "build")  # where `sam build` leaves the build, in the project's folder
SOURCES = ("functions", "layers", "jobs", "template.yaml")  # what `sam build` turns into BUILD
# What the python3.13 runtime itself provides: the runtime client and the AWS SDK. Everything else a
# function imports must come from its own folder or the built layer.
RUNTIME_MODULES = (
    "awslambdaric",
    "runtime_client",
    "simplejson",
    "snapshot_restore_py",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
)
RIE = (
    Path(samcli.__file__).parent
    / "local"
    / "rapid"
    / ("aws-lambda-rie-arm64" if platform.machine() in ("aarch64", "arm64") else "aws-lambda-rie-x86_64")
)


class BuildError(RuntimeError):
    """`sam build` failed, or the build lacks the function."""


def build(project: Path) -> Path:
    """The build `sam build` left in the project's folder, made first when there is none."""
    build_dir = project / BUILD
    if not (build_dir / "template.yaml").exists():
        sam = Path(sys.executable).with_name("sam")
        done = subprocess.run([sam, "build", "--cached", "--parallel"], cwd=project, check=False, timeout=900)  # noqa: S603
        if done.returncode:
            raise BuildError(f"sam build failed (exit {done.returncode})")
    return build_dir


def stale_sources(project: Path, build_dir: Path) -> list[Path]:
    """The project's sources changed since the build (the function would run the old code)."""
    built_at = (build_dir / "template.yaml").stat().st_mtime
    found = []
    for name in SOURCES:
        root = project / name
        paths = [root] if root.is_file() else root.rglob("*.py")
        found += [path for path in paths if path.stat().st_mtime > built_at]
    return found


def runtime_folder(folder: Path) -> Path:
    """A folder with only the runtime's own modules, linked from this environment."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise BuildError(f"{name} is missing from this environment (make venv installs it)")
        source = Path(spec.submodule_search_locations[0] if spec.submodule_search_locations else str(spec.origin))
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
    return folder


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows of a function: from the emulated Lambda API, as the stack created it."""

    name: str
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]

    @classmethod
    def of(cls, lambda_client: LambdaClient, name: str) -> FunctionConfig:
        config = lambda_client.get_function_configuration(FunctionName=name)
        return cls(
            name=name,
            handler=config["Handler"],
            memory_mb=config["MemorySize"],
            timeout_s=config["Timeout"],
            environment=config.get("Environment", {}).get("Variables", {}),
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BuiltFunction:
    """One built function behind the RIE on loopback; stopped (with its runtime) on exit."""

    def __init__(
        self, folder: Path, config: FunctionConfig, where: tuple[str, str], log: Path, layers: list[str]
    ) -> None:
        self.folder, self.config, self.log_path, self.layers = folder, config, log, layers
        self.endpoint_url, self.region = where
        self.runtime = runtime_folder(log.parent / "runtime")

    def _environment(self) -> dict[str, str]:
        # the layers as Lambda merges them into /opt: a later layer's files over an earlier one's
        layers = [self.folder.parent / name / "python" for name in reversed(self.layers)]
        return {
            "PATH": os.environ["PATH"],
            # as Lambda orders them: the function, the layer, the runtime; no site-packages (python -S)
            "PYTHONPATH": os.pathsep.join(map(str, (self.folder, *layers, self.runtime))),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.config.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.config.timeout_s),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            **self.config.environment,
        }

    def __enter__(self) -> BuiltFunction:
        if not self.folder.is_dir():
            raise BuildError(f"{self.folder} is missing: run sam build")
        self.port = _free_port()
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(RIE),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{_free_port()}",
                "--log-level",
                "error",
                sys.executable,
                "-S",
                "-m",
                "awslambdaric",
                self.config.handler,
            ],
            cwd=self.folder,
            env=self._environment(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(self._listening, 30, f"the RIE of {self.config.name} to listen")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise BuildError(f"the RIE of {self.config.name} stopped: {self.output()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def invoke(self, event: Any) -> tuple[int, Any]:
        """The RIE's answer: an error is a 200 whose body has `errorType`, as Lambda's Invoke says."""
        request = urllib.request.Request(  # noqa: S310 - the RIE on loopback
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
            data=json.dumps(event).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.config.timeout_s + 30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@dataclass
class Invocation:
    body: Any  # the function's response; an error has `errorType`
    logs: str  # what the function and its runtime printed
    made: list[str]  # what was landed for the event
    cloudformation: dict[str, Any] | None = None  # a custom resource's response, as CloudFormation got it

    @property
    def failed(self) -> bool:
        errored = isinstance(self.body, dict) and "errorType" in self.body
        return errored or (self.cloudformation is not None and self.cloudformation.get("Status") != "SUCCESS")


def invoke_built(logical_id: str, event: Any, work: Path, template: Path, build_dir: Path) -> Invocation:
    """Start an emulator of `template` for this one call, land what the event names, run the built function."""
    # the shortest batching window: nothing here waits for notifications; the bucket's test event passes soon
    overrides = {"IngestBatchingWindowSeconds": "1"}
    with Emulator(template=template, parameter_overrides=overrides, log_dir=work / "emulator") as emulator:
        prepared = prepare(emulator, logical_id, event)
        config = FunctionConfig.of(emulator.client("lambda"), emulator.function_name(logical_id))
        folder, log = build_dir / logical_id, work / f"{logical_id}.log"
        where, layers = (emulator.endpoint_url, emulator.stack.region), emulator.stack.function_layers(logical_id)
        with BuiltFunction(folder, config, where, log, layers) as function:
            _, body = function.invoke(prepared.event)
            logs = function.output()
        response = (
            cloudformation_response(emulator.client("s3"), prepared.response_key) if prepared.response_key else None
        )
        return Invocation(body, logs, prepared.made, response)
