"""Each function as `sam build` left it, invoked as Lambda runs it, without a container.

The Runtime Interface Emulator that ships in the SAM CLI package serves the invoke API on loopback
and runs awslambdaric under python3.13 in the built function's folder, with the built layer on the
path, the function's environment from the template, and the emulator's moto server as AWS. Each
sample in events/ goes in; the response body is checked (an error is a 200 with `errorType`).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import platform
import random
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import samcli

from landfall.batching import manifest_line
from landfall.layout import manifest_key
from landfall_cli.local.emulator import wait_for
from landfall_cli.local.template import PROJECT_ROOT
from landfall_cli.synthetic import event_lines
from tests.conftest import load_event

pytestmark = pytest.mark.emulator

BUILD = PROJECT_ROOT / ".aws-sam" / "build"
# What the python3.13 runtime itself provides: the runtime client and the AWS SDK. Everything else a
# function imports must come from its own folder or the built layer.
RUNTIME_MODULES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py",
                   "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")  # fmt: skip
RIE = (
    Path(samcli.__file__).parent
    / "local"
    / "rapid"
    / ("aws-lambda-rie-arm64" if platform.machine() in ("aarch64", "arm64") else "aws-lambda-rie-x86_64")
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Path:
    """A folder with only the runtime's own modules, linked from this environment."""
    folder = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        source = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations else Path(spec.origin)
        (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture(scope="module")
def built() -> Path:
    """`make test` builds first; a test run alone builds here."""
    if not (BUILD / "template.yaml").exists():
        sam = Path(sys.executable).with_name("sam")
        subprocess.run([sam, "build", "--cached", "--parallel"], cwd=PROJECT_ROOT, check=True, timeout=900)  # noqa: S603
    return BUILD


class BuiltFunction:
    """One built function behind the RIE; stopped (with its runtime) on exit."""

    def __init__(self, emulator, logical_id: str, log_dir: Path, runtime: Path) -> None:
        self.emulator, self.logical_id, self.log_dir, self.runtime = emulator, logical_id, log_dir, runtime

    def __enter__(self) -> BuiltFunction:
        stack = self.emulator.stack
        folder = BUILD / self.logical_id
        self.port = _free_port()
        environment = {
            "PATH": os.environ["PATH"],
            # as Lambda orders them: the function, the layer, the runtime; no site-packages (python -S)
            "PYTHONPATH": os.pathsep.join(map(str, (folder, BUILD / "CommonLayer" / "python", self.runtime))),
            "AWS_ENDPOINT_URL": self.emulator.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": stack.region,
            "AWS_DEFAULT_REGION": stack.region,
            "AWS_LAMBDA_FUNCTION_NAME": stack.physical_name(self.logical_id),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(stack.function_property(self.logical_id, "MemorySize")),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(stack.function_property(self.logical_id, "Timeout")),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            **stack.function_environment(self.logical_id),
        }
        self.log = (self.log_dir / f"{self.logical_id}.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [str(RIE), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{_free_port()}", "--log-level", "error",
             sys.executable, "-S", "-m", "awslambdaric", stack.function_property(self.logical_id, "Handler")],
            cwd=folder, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

        def listening() -> bool:
            assert self.process.poll() is None, self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_for(listening, 30, f"the RIE of {self.logical_id} to listen")
        return self

    def invoke(self, event: Any) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - the RIE on loopback
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
            data=json.dumps(event).encode(), method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")

    def output(self) -> str:
        self.log.flush()
        return (self.log_dir / f"{self.logical_id}.log").read_text(errors="replace")[-3000:]

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def function(built, runtime, emulator, tmp_path):
    def start(logical_id: str) -> BuiltFunction:
        return BuiltFunction(emulator, logical_id, tmp_path, runtime)

    return start


def test_the_built_layer_is_what_the_functions_import(built):
    assert (built / "CommonLayer" / "python" / "landfall" / "processing.py").exists()
    assert list((built / "CommonLayer" / "python").glob("msgspec*")) and list(
        (built / "CommonLayer" / "python").glob("isal*")
    )


@pytest.mark.parametrize(
    ("sample", "failed", "starts_run"),
    [
        ("sqs-s3-notifications.json", 0, True),
        ("sqs-malformed-message.json", 1, True),
        ("sqs-test-event.json", 0, False),
        ("s3-direct.json", None, True),
        ("s3-versioned.json", None, True),
        ("eventbridge-object-created.json", None, True),
    ],
)
def test_the_manifest_writer_answers_each_sample(function, emulator, sample, failed, starts_run):
    event = load_event(f"manifest_writer/{sample}")
    with function("ManifestWriterFunction") as writer:
        status, body = writer.invoke(event)
        assert status == 200 and "errorType" not in body, (body, writer.output())
    if failed is not None:
        assert len(body["batchItemFailures"]) == failed
    assert (body["run_id"] is not None) == starts_run
    if starts_run:
        manifest = manifest_key("notification", body["run_id"])
        assert emulator.client("s3").head_object(Bucket=emulator.pipeline_bucket, Key=manifest)


def test_the_processor_and_the_reducer_run_the_samples_end_to_end(function, emulator):
    s3 = emulator.client("s3")
    batch = load_event("processor/batch.json")
    lines = [line for line, _ in event_lines(random.Random(3), 40, datetime(2026, 11, 22, 13, tzinfo=UTC), 0.0)]
    for item in batch["Items"]:
        s3.put_object(Bucket=item["bucket"], Key=item["key"], Body=gzip.compress(b"\n".join(lines) + b"\n"))
    with function("ProcessorFunction") as processor:
        status, summary = processor.invoke(batch)
        assert status == 200 and "errorType" not in summary, (summary, processor.output())
        status, error = processor.invoke({"BatchInput": {}})
        assert status == 200 and error["errorType"] == "ValidationError"
    assert [o["status"] for o in summary["objects"]] == ["processed", "processed"]
    assert sum(o["valid"] for o in summary["objects"]) == 80

    run = load_event("reducer/run.json")
    items = [json.dumps(item).encode() for item in batch["Items"]]
    line = manifest_line(sum(item["size"] for item in batch["Items"]), items)
    s3.put_object(Bucket=run["manifest"]["bucket"], Key=run["manifest"]["key"], Body=line)
    _write_results(s3, run, batch, summary)
    with function("ReducerFunction") as reducer:
        status, report = reducer.invoke(run)
        assert status == 200 and "errorType" not in report, (report, reducer.output())
    assert report["status"] == "SUCCEEDED" and report["reconciliation"]["ok"]
    assert report["objects"]["processed"] == 2 and report["records"]["valid"] == 80


def _write_results(s3, run: dict[str, Any], batch: dict[str, Any], summary: dict[str, Any]) -> None:
    """The ResultWriter's files for one succeeded child, in AWS's format (Transformation NONE, JSONL)."""
    details = run["map_result"]["ResultWriterDetails"]
    prefix = details["Key"].rsplit("/", 1)[0]
    record = {
        "ExecutionArn": run["map_result"]["MapRunArn"].replace(":mapRun:", ":execution:").rsplit(":", 1)[0] + ":1",
        "Input": json.dumps(batch), "InputDetails": {"Included": True}, "Name": "1",
        "Output": json.dumps(summary), "OutputDetails": {"Included": True},
        "StartDate": "2026-11-22T13:05:00.123Z", "StopDate": "2026-11-22T13:05:02.456Z", "Status": "SUCCEEDED",
    }  # fmt: skip
    s3.put_object(Bucket=details["Bucket"], Key=f"{prefix}/SUCCEEDED_0.json", Body=json.dumps(record).encode() + b"\n")
    files = {"FAILED": [], "PENDING": [], "SUCCEEDED": [{"Key": f"{prefix}/SUCCEEDED_0.json", "Size": 1}]}
    manifest = {
        "DestinationBucket": details["Bucket"],
        "MapRunArn": run["map_result"]["MapRunArn"],
        "ResultFiles": files,
    }
    s3.put_object(Bucket=details["Bucket"], Key=details["Key"], Body=json.dumps(manifest).encode())


def test_the_catalog_function_answers_cloudformation_with_the_tables_it_made(function, emulator):
    """The sample Create request, with its response URL presigned on the emulator's S3 (as CloudFormation
    presigns one on its own bucket) and the emulator's database."""
    s3, glue = emulator.client("s3"), emulator.client("glue")
    glue.create_database(DatabaseInput={"Name": "landfall_artifact"})
    url = s3.generate_presigned_url("put_object", Params={"Bucket": emulator.pipeline_bucket, "Key": "t/response"})
    event = load_event("catalog/create.json")
    event["ResponseURL"] = url
    event["ResourceProperties"] |= {"DatabaseName": "landfall_artifact", "Bucket": emulator.pipeline_bucket}
    with function("CatalogFunction") as catalog:
        status, body = catalog.invoke(event)
        assert status == 200 and body["status"] == "SUCCESS", (body, catalog.output())
    response = json.loads(s3.get_object(Bucket=emulator.pipeline_bucket, Key="t/response")["Body"].read())
    assert response["Status"] == "SUCCESS" and response["RequestId"] == event["RequestId"]
    assert response["Data"] == {"Table": "events", "QuarantineTable": "quarantine", "UniqueView": "events_unique"}
    tables = {t["Name"] for t in glue.get_tables(DatabaseName="landfall_artifact")["TableList"]}
    assert tables == {"events", "events_unique", "quarantine"}


def test_the_built_layer_stays_far_below_lambdas_limit(built):
    """Lambda allows 250 MB unzipped for a function and its layers; the layer keeps 100 MB for the rest."""
    size = sum(path.stat().st_size for path in (built / "CommonLayer").rglob("*") if path.is_file())
    assert size <= 150 * 1024 * 1024, f"the layer is {size / 2**20:.0f} MiB"


def test_the_layer_ships_every_dependency_pinned_and_nothing_the_runtime_already_has(built):
    shipped = {path.name for path in (built / "CommonLayer" / "python").iterdir()}
    assert not shipped & {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py", "jmespath"}
    requirements = (PROJECT_ROOT / "layers" / "common" / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert pins and all("==" in pin for pin in pins)
    assert {"landfall", "cramjam", "msgspec", "isal", "pydantic_core", "arro3"} <= shipped
    assert not shipped & {"duckdb", "pyarrow", "polars"}  # the local engine and the tests' readers stay out
