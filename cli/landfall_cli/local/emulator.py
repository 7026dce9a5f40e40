"""The embedded emulator: one moto server on 127.0.0.1, the template's resources, the real handlers.

    with Emulator(parameter_overrides={"MaxItemsPerBatch": "5"}) as emulator:
        s3 = emulator.client("s3")
        ...

Everything listens on loopback only and stops when the context exits.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from landfall_cli.local import asl_extensions, moto_speedups, s3_events
from landfall_cli.local.lambda_runtime import FunctionSpec, LambdaRuntime
from landfall_cli.local.template import NO_VALUE, PROJECT_ROOT, Stack, load_template

HOST = "127.0.0.1"
LOG = logging.getLogger(__name__)
_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024  # an event source mapping's batch stops at 6 MB of payload
_LARGEST_SQS_RECORD = 300 * 1024  # an SQS message (256 KiB) with its record's fields


class EmulatorTimeout(TimeoutError):
    """Something did not happen within its deadline."""


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise EmulatorTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class SqsEventSource(threading.Thread):
    """Lambda's SQS event source mapping: batch size, batching window, partial batch responses.

    Messages a function fails become visible again after `retry_after` seconds instead of the
    queue's visibility timeout (12 minutes), so that retries and the dead-letter queue's
    maxReceiveCount play out within a local run.
    """

    def __init__(
        self,
        emulator: Emulator,
        queue_url: str,
        function_name: str,
        properties: dict[str, Any],
        retry_after: int = 1,
    ) -> None:
        super().__init__(name=f"esm-{function_name}", daemon=True)
        self.queue_url = queue_url
        self.queue_arn = emulator.stack.arn(emulator.queue_logical_id(queue_url))
        self.function_name = function_name
        self.batch_size = int(properties.get("BatchSize", 10))
        self.window = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self.partial = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        self.sqs = emulator.client("sqs")
        self.lambda_ = emulator.client("lambda")
        self.region = emulator.stack.region
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.retry_after = retry_after
        self.messages_handled = 0
        self.messages_failed = 0
        self.invocations = 0
        self.largest_payload = 0  # bytes of the largest batch delivered
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            messages: list[dict[str, Any]] = []
            try:
                messages = self._collect()
                if messages:
                    self.idle.clear()
                    self._deliver(messages)
                else:
                    self.idle.set()
            except Exception as error:  # as Lambda's poller does: report, back off, poll again
                self.errors.append(repr(error))
                LOG.warning("event source %s: %s", self.name, error)
                self._release(messages)
                self.stopping.wait(1.0)

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Messages a failed poll had received become visible again soon, not after the visibility timeout."""
        for message in messages:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_after
                )
            except Exception as error:  # already deleted, or the queue is gone: the queue's own timeout applies
                self.errors.append(repr(error))

    def _collect(self) -> list[dict[str, Any]]:
        """A batch as Lambda's poller gathers one: up to the batch size, the batching window, or 6 MB
        of invocation payload, whichever comes first."""
        messages: list[dict[str, Any]] = []
        deadline = None
        payload = 0
        while len(messages) < self.batch_size and not self.stopping.is_set():
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            for message in received:
                size = len(json.dumps(self._record(message)))
                if messages and payload + size > _BATCH_PAYLOAD_BYTES:  # back to the queue, for the next batch
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                    continue
                messages.append(message)
                payload += size
            if payload >= _BATCH_PAYLOAD_BYTES - _LARGEST_SQS_RECORD:
                break
            if messages and deadline is None:
                deadline = time.monotonic() + self.window
            if deadline is not None and time.monotonic() >= deadline:
                break
            if not received:
                if not messages:
                    return messages
                self.stopping.wait(0.05)
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        payload = json.dumps({"Records": [self._record(m) for m in messages]}).encode()
        self.largest_payload = max(self.largest_payload, len(payload))
        response = self.lambda_.invoke(FunctionName=self.function_name, Payload=payload)
        self.invocations += 1
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            failed = {m["MessageId"] for m in messages}  # the whole batch is retried
        elif self.partial and isinstance(payload, dict):
            failed = {f["itemIdentifier"] for f in payload.get("batchItemFailures", [])}
        else:
            failed = set()
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )
        for start in range(0, len(retry), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_after}
                    for i, m in enumerate(retry[start : start + 10])
                ],
            )
        self.messages_handled += len(done)
        self.messages_failed += len(retry)


class Emulator:
    def __init__(
        self,
        *,
        parameter_overrides: dict[str, str] | None = None,
        stack_name: str = "landfall-local",
        processor_workers: int = 2,
        log_dir: Path | None = None,
        real_retry_sleeps: bool = False,
        express_seconds: float = 300.0,
        quiet: bool = True,
    ) -> None:
        self.quiet = quiet
        self.stack = Stack(load_template(), name=stack_name, parameter_overrides=parameter_overrides)
        self.processor_workers = processor_workers
        self.log_dir = log_dir
        self.real_retry_sleeps = real_retry_sleeps
        self.express_seconds = express_seconds  # AWS stops an EXPRESS child at 5 minutes; tests scale it down
        self.event_sources: list[SqsEventSource] = []
        self._server: ThreadedMotoServer | None = None
        self._saved_moto_port: str | None = None

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything, or (if anything fails) stop what had started and raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        asl_extensions.install()
        moto_speedups.install()
        s3_events.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
        if self.quiet:
            # moto logs every evaluation error of every state at ERROR level (a Choice probing an
            # absent field included) and warns about the tolerance fields this engine does honour.
            # Executions still report their errors through DescribeExecution.
            logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        asl_extensions.retry_clock.real_sleeps = self.real_retry_sleeps
        asl_extensions.limits.express_seconds = self.express_seconds
        self._server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        self._server.start()
        port = self._server.get_host_and_port()[1]
        self.endpoint_url = f"http://{HOST}:{port}"
        # moto's Step Functions engine calls S3 and Lambda through its own server on this port.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self.session = boto3.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=self.stack.region
        )
        self._post("/moto-api/reset", {})
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lambdas = LambdaRuntime(
            endpoint_url=self.endpoint_url,
            region=self.stack.region,
            account_id=self.stack.account_id,
            log_dir=self.log_dir,
        )
        self.lambdas.install()
        self._create_resources()

    def stop(self) -> None:
        """Stop the event sources, the functions' environments and the server; safe to call twice."""
        for source in self.event_sources:
            source.stopping.set()
        for source in self.event_sources:
            if source.is_alive():
                source.join(timeout=10)
        if hasattr(self, "lambdas"):
            self.lambdas.shutdown()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - http to the loopback server only
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            response.read()

    # ---------------------------------------------------------------- names
    @property
    def landing_bucket(self) -> str:
        return self.stack.physical_name("LandingBucket")

    @property
    def pipeline_bucket(self) -> str:
        return self.stack.physical_name("PipelineBucket")

    @property
    def state_machine_arn(self) -> str:
        return self.stack.arn("PipelineStateMachine")

    def function_name(self, logical_id: str) -> str:
        return self.stack.physical_name(logical_id)

    def queue_logical_id(self, queue_url: str) -> str:
        return next(
            q
            for q in self.stack.of_type("AWS::SQS::Queue")
            if self.stack.ref(q).endswith("/" + queue_url.rsplit("/", 1)[-1])
        )

    def queue_url(self, logical_id: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=self.stack.physical_name(logical_id))["QueueUrl"]

    # ---------------------------------------------------------------- resources
    def _create_resources(self) -> None:
        stack = self.stack
        iam = self.client("iam")
        role_arn = iam.create_role(
            RoleName=f"{stack.name}-execution",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]

        sqs = self.client("sqs")
        queues = stack.of_type("AWS::SQS::Queue")
        for logical_id in queues:
            sqs.create_queue(QueueName=stack.physical_name(logical_id))
        for logical_id in queues:
            props = stack.resolve(stack.resources[logical_id].get("Properties", {}))
            attributes = {
                key: str(props[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod") if key in props
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            if attributes:
                sqs.set_queue_attributes(QueueUrl=self.queue_url(logical_id), Attributes=attributes)

        for logical_id in stack.of_type("AWS::Serverless::Function"):
            self._create_function(logical_id, role_arn)

        sfn = self.client("stepfunctions")
        for logical_id in stack.of_type("AWS::Serverless::StateMachine"):
            sfn.create_state_machine(
                name=stack.physical_name(logical_id),
                definition=stack.state_machine_definition(logical_id),
                roleArn=role_arn,
                type=stack.resources[logical_id]["Properties"].get("Type", "STANDARD"),
            )

        s3 = self.client("s3")
        for logical_id in stack.of_type("AWS::S3::Bucket"):
            name = stack.physical_name(logical_id)
            s3.create_bucket(Bucket=name)
            notification = stack.resources[logical_id].get("Properties", {}).get("NotificationConfiguration")
            if notification:
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration=self._notification(stack.resolve(notification))
                )

        for source in self.event_sources:
            source.start()
        # Setting the notification sent an s3:TestEvent: let it pass before counting notifications.
        wait_for(lambda: all(s.idle.is_set() for s in self.event_sources), 60, "the event sources to settle")
        self._handled_at_start = sum(s.messages_handled for s in self.event_sources)

    @staticmethod
    def _notification(config: dict[str, Any]) -> dict[str, Any]:
        """CloudFormation's NotificationConfiguration in the shape of the S3 API."""
        queue_configs = []
        for queue in config.get("QueueConfigurations", []):
            rules = queue.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            entry: dict[str, Any] = {"QueueArn": queue["Queue"], "Events": [queue["Event"]]}
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            queue_configs.append(entry)
        return {"QueueConfigurations": queue_configs}

    def _create_function(self, logical_id: str, role_arn: str) -> None:
        stack = self.stack
        name = stack.physical_name(logical_id)
        environment = stack.function_environment(logical_id)
        code_dir = PROJECT_ROOT / stack.function_property(logical_id, "CodeUri")
        handler = stack.function_property(logical_id, "Handler")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.write(code_dir / "app.py", "app.py")
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime=str(stack.function_property(logical_id, "Runtime")),
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": archive.getvalue()},
            Timeout=int(stack.function_property(logical_id, "Timeout", 3)),
            MemorySize=int(stack.function_property(logical_id, "MemorySize", 128)),
            Environment={"Variables": environment},
        )
        self.lambdas.register(
            FunctionSpec(
                logical_id=logical_id,
                name=name,
                code_dir=code_dir,
                handler=handler,
                environment=environment,
                memory_mb=int(stack.function_property(logical_id, "MemorySize", 128)),
                timeout_s=int(stack.function_property(logical_id, "Timeout", 3)),
                workers=self.processor_workers if logical_id == "ProcessorFunction" else 1,
                reserved_concurrency=self._reserved_concurrency(logical_id),
            )
        )
        for event in stack.resources[logical_id]["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                props = stack.resolve(event["Properties"])
                queue_name = props["Queue"].rsplit(":", 1)[-1]
                self.event_sources.append(
                    SqsEventSource(
                        self, self.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"], name, props
                    )
                )

    def _reserved_concurrency(self, logical_id: str) -> int | None:
        reserved = self.stack.function_property(logical_id, "ReservedConcurrentExecutions")
        return None if reserved is None or reserved is NO_VALUE else int(reserved)

    # ---------------------------------------------------------------- runs
    def executions(self) -> list[dict[str, Any]]:
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        return [e for page in paginator.paginate(stateMachineArn=self.state_machine_arn) for e in page["executions"]]

    def wait_for_ingestion(self, notifications: int, timeout: float = 120) -> None:
        """Until `notifications` more messages were handled since the last wait, and no message is
        queued or in flight: the runs they start have started."""
        sqs = self.client("sqs")
        urls = [source.queue_url for source in self.event_sources]

        def drained() -> bool:
            handled = sum(s.messages_handled for s in self.event_sources)
            if handled - self._handled_at_start < notifications or not all(s.idle.is_set() for s in self.event_sources):
                return False
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            for url in urls:
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
                if any(int(attributes[name]) for name in names):
                    return False
            self._handled_at_start = handled
            return True

        try:
            wait_for(drained, timeout, f"{notifications} notifications to be ingested")
        except EmulatorTimeout as error:
            errors = [f"{s.name}: {e}" for s in self.event_sources for e in s.errors[-3:]]
            raise EmulatorTimeout("; ".join([str(error), *errors])) from None

    def wait_for_execution(self, execution_arn: str, timeout: float = 300) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def finished() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] != "RUNNING" else None

        return wait_for(finished, timeout, f"execution {execution_arn} to end", interval=0.2)
