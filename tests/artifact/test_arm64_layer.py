"""The arm64 layer runs, and does what the x86-64 one does: Debian's aarch64 Python 3.13 under qemu-user
(`make arm64-python` sets it up) runs the built processor with `CommonLayerArm64` on the same object,
against the same moto server on 127.0.0.1, as python3.13 runs it with `CommonLayer`. The batch summary
(records, rejections with their reasons, aggregates) must be equal and the Parquet files identical to
the byte. Emulated, it says nothing of Graviton's speed: that takes an arm64 machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from landfall_cli.invoke import build
from tests.paths import REPO_ROOT, TEMPLATE_PATH

pytestmark = pytest.mark.emulator

ARM64_PYTHON = REPO_ROOT / ".landfall" / "arm64-root" / "usr" / "bin" / "python3.13"
QEMU = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
PURE_PYTHON_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

# the processor's own call, as its handler makes it, then each curated file's bytes hashed
PROBE = """
import hashlib, json, os, platform, sys
function, layer, runtime, endpoint, bucket, key = sys.argv[1:7]
sys.path[:0] = [function, layer, runtime]
os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
                  AWS_ENDPOINT_URL=endpoint, POWERTOOLS_TRACE_DISABLED="true", LAMBDA_TASK_ROOT=function)
from landfall.core.clients import aws_client
from landfall.jobs import default_job
from landfall.ingest.messages import ManifestItem
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
s3 = aws_client("s3")
size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
event = ProcessorEvent(BatchInput=BatchInput(run_id="arch", output_bucket=bucket),
                       Items=[ManifestItem(bucket=bucket, key=key, size=size)])
summary = process_batch(event, s3, ProcessorSettings(), default_job())
files = {f.key: hashlib.sha256(s3.get_object(Bucket=bucket, Key=f.key)["Body"].read()).hexdigest()
         for f in summary.files}
print(json.dumps({"machine": platform.machine(), "summary": summary.model_dump(mode="json", exclude={"duration_ms"}),
                  "files": files}))
"""


@pytest.fixture(scope="module")
def arm64_python() -> list[str]:
    """The command that starts the aarch64 interpreter; CI must have it, elsewhere it is optional."""
    if QEMU is None or not ARM64_PYTHON.exists():
        message = "no aarch64 Python under qemu-user: `make arm64-python` (root, qemu-user-static, debootstrap)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return [QEMU, "-L", str(ARM64_PYTHON.parents[2]), str(ARM64_PYTHON)]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Path:
    """Lambda's own pure-Python modules (the runtime provides boto3 and botocore, not the layer)."""
    import importlib.util

    folder = tmp_path_factory.mktemp("runtime")
    for name in PURE_PYTHON_RUNTIME:
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        source = Path(spec.submodule_search_locations[0] if spec.submodule_search_locations else str(spec.origin))
        (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto server on loopback, for both interpreters (stopped with the module)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "landfall_emulator.moto_compat", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the moto server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(command: list[str], built: Path, layer: str, runtime: Path, endpoint: str, key: str) -> dict:
    done = subprocess.run(  # noqa: S603
        [
            *command,
            "-I",
            "-S",
            "-c",
            PROBE,
            str(built / "ProcessorFunction"),
            str(built / layer / "python"),
            str(runtime),
            endpoint,
            "pipeline",
            key,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_arm64_layer_writes_what_the_x86_64_layer_writes(arm64_python, runtime, endpoint, tmp_path):
    import boto3

    from benchmarks.workloads import make_file

    built = build(REPO_ROOT)
    sample = tmp_path / "events.jsonl.gz"
    make_file(sample, 2_000_000)  # ~0.1 % bad lines of every kind the generator makes, three hours
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )  # noqa: S106 - moto
    s3.create_bucket(Bucket="pipeline")
    s3.upload_file(str(sample), "pipeline", "raw/events.jsonl.gz")

    x86 = run([sys.executable], built, "CommonLayer", runtime, endpoint, "raw/events.jsonl.gz")
    arm = run(arm64_python, built, "CommonLayerArm64", runtime, endpoint, "raw/events.jsonl.gz")

    assert (x86["machine"], arm["machine"]) == ("x86_64", "aarch64")
    (obj,) = arm["summary"]["objects"]
    assert obj["status"] == "processed" and obj["rejected"] > 0 and len(arm["files"]) == 3
    assert arm["summary"] == x86["summary"]
    assert arm["files"] == x86["files"]  # the same Parquet, byte for byte


def test_sam_build_for_arm64_builds_every_function_and_the_arm64_layer(tmp_path):
    """`sam build --parameter-overrides Architecture=arm64`, as a user deploying on Graviton runs it:
    it succeeds, builds each function, and the layers the stack then uses hold AArch64 code only."""
    from landfall_emulator.template import load_template

    build_dir = tmp_path / "build"
    done = subprocess.run(  # noqa: S603
        [
            Path(sys.executable).with_name("sam"),
            "build",
            "--parameter-overrides",
            "Architecture=arm64",
            "--build-dir",
            str(build_dir),
            "--parallel",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    resources = load_template(build_dir / "template.yaml")["Resources"]
    functions = [name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    declared = load_template(TEMPLATE_PATH)["Resources"]
    assert len(functions) == sum(r["Type"] == "AWS::Serverless::Function" for r in declared.values())
    assert all((build_dir / name / "app.py").exists() for name in functions)
    for layer in ("CommonLayerArm64", "IcebergLayerArm64"):  # the table stage's too (mmh3, zstandard)
        libraries = [p for p in (build_dir / layer / "python").rglob("*.so*") if p.read_bytes()[:4] == b"\x7fELF"]
        assert libraries and {int.from_bytes(p.read_bytes()[18:20], "little") for p in libraries} == {0xB7}, layer
