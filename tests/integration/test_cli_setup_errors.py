"""`landfall ... --stack` without a usable AWS setup: one line that says what is missing and how to set
it, exit 2, no traceback.

Each case runs the command as a user does, in an environment that holds nothing but PATH and a HOME
without ~/.aws, with the instance metadata service off; an endpoint, when a case needs one, is a server
on 127.0.0.1 that the test starts and stops. Nothing leaves the loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.emulator  # moto's server runs in this process, as under the emulator's tests

REGION = "eu-north-1"  # not the emulator's: the moto server's stacks are its backends' too
LANDFALL_COMMANDS = [
    ["status", "backfill-x", "--stack", "S", "--no-follow"],
    ["report", "backfill-x", "--stack", "S"],
    ["redrive", "backfill-x", "--stack", "S", "--dry-run"],
    ["backfill", "--stack", "S", "--dry-run"],
    ["query", "--stack", "S", "SELECT 1"],
]
EXPIRED_MESSAGE = "The security token included in the request is expired"
EXPIRED_XML = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
    f"<Message>{EXPIRED_MESSAGE}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
)
OUTPUTS = ("LandingBucketName", "ManifestWriterFunctionName", "ProcessorFunctionName", "ReducerFunctionName")


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """A machine that has never been set up for AWS."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def one_line(env: dict[str, str], argv: list[str]) -> str:
    """The command's whole output, which must be one line, and exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "landfall_cli.main", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert output.strip() and output.endswith("\n") and output.count("\n") == 1, output
    return output


@pytest.mark.parametrize("argv", LANDFALL_COMMANDS, ids=lambda argv: argv[0])
def test_no_region(bare_env, argv):
    line = one_line(bare_env, argv)
    assert line.startswith("no AWS region") and "AWS_REGION" in line and "--region" in line


@pytest.mark.parametrize(
    "region",
    [["--region", REGION], {"AWS_REGION": REGION}, {"AWS_DEFAULT_REGION": REGION}],
    ids=["--region", "AWS_REGION", "AWS_DEFAULT_REGION"],
)
def test_a_region_but_no_credentials(bare_env, region):
    env, argv = ({**bare_env, **region}, []) if isinstance(region, dict) else (bare_env, region)
    line = one_line(env, [*LANDFALL_COMMANDS[0], *argv])
    assert line.startswith("no AWS credentials") and "aws configure" in line and "--profile" in line


def test_a_profile_that_does_not_exist(bare_env):
    line = one_line({**bare_env, "AWS_DEFAULT_REGION": REGION}, [*LANDFALL_COMMANDS[0], "--profile", "nowhere"])
    assert line.startswith("no AWS profile 'nowhere'") and "--profile" in line and "list-profiles" in line


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def endpoint_env(env: dict[str, str], endpoint: str) -> dict[str, str]:
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return {**env, **credentials, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}


def test_a_stack_that_does_not_exist(bare_env, moto_endpoint):
    line = one_line(
        endpoint_env(bare_env, moto_endpoint), ["status", "backfill-x", "--stack", "nowhere", "--no-follow"]
    )
    assert line.startswith(f"stack nowhere in {REGION} does not exist") and "--stack" in line and "--region" in line


def test_a_stack_that_is_not_landfalls(bare_env, moto_endpoint):
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "not-landfall"}}},
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
    }
    cloudformation = boto3.client(
        "cloudformation",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cloudformation.create_stack(StackName="not-landfall", TemplateBody=json.dumps(template))
    line = one_line(endpoint_env(bare_env, moto_endpoint), ["status", "r", "--stack", "not-landfall", "--no-follow"])
    assert line.startswith(f"stack not-landfall in {REGION} is not a Landfall stack") and "LandingBucketName" in line


class ExpiredAws(BaseHTTPRequestHandler):
    """AWS to a session that has expired: every request refused with ExpiredToken."""

    def do_POST(self) -> None:
        self.respond(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    do_GET = do_PUT = do_POST

    def respond(self, body: bytes) -> None:
        if self.headers.get("X-Amz-Target"):  # the json protocol: Step Functions, Athena
            self.answer(400, {"__type": "ExpiredTokenException", "message": EXPIRED_MESSAGE})
        else:
            self.answer(400, EXPIRED_XML)

    def answer(self, status: int, body: str | dict) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0" if isinstance(body, dict) else "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads the command's output, not the server's."""


class ExpiringAws(ExpiredAws):
    """The session expires once the stack is found: CloudFormation and Lambda answer, the next call is refused."""

    def respond(self, body: bytes) -> None:
        if b"Action=DescribeStacks" in body:
            outputs = "".join(
                f"<member><OutputKey>{key}</OutputKey><OutputValue>x</OutputValue></member>" for key in OUTPUTS
            )
            self.answer(
                200,
                "<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>S</StackName>"
                "<CreationTime>2031-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE"
                f"</StackStatus><Outputs>{outputs}</Outputs></member></Stacks></DescribeStacksResult>"
                "</DescribeStacksResponse>",
            )
        elif self.command == "GET" and self.path.endswith("/configuration"):  # Lambda's GetFunctionConfiguration
            arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:S"
            self.answer(
                200,
                {"MemorySize": 1024, "Environment": {"Variables": {"STATE_MACHINE_ARN": arn, "PIPELINE_BUCKET": "p"}}},
            )
        else:
            super().respond(body)


@pytest.fixture
def serving(request) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering with the handler the test names; stopped when the test ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("serving", [ExpiredAws], indirect=True)
def test_an_expired_session(bare_env, serving):
    line = one_line(endpoint_env(bare_env, serving), LANDFALL_COMMANDS[0])
    assert line.startswith("the AWS session has expired (ExpiredToken)") and "aws sso login" in line


@pytest.mark.parametrize("serving", [ExpiringAws], indirect=True)
def test_a_session_that_expires_once_the_stack_is_found(bare_env, serving):
    """Mid-command, at Step Functions' DescribeExecution: `commands.run()` says so, as for the first call."""
    line = one_line(endpoint_env(bare_env, serving), LANDFALL_COMMANDS[0])
    assert line.startswith("the AWS session has expired (ExpiredTokenException)") and "aws sso login" in line
