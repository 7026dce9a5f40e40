"""Lambda's SQS event source mapping, as the emulator runs it: batch size, batching window, 6 MB of
payload, partial batch responses.

Messages a function fails become visible again after `retry_after` seconds instead of the queue's
visibility timeout (12 minutes), so that retries and the dead-letter queue's maxReceiveCount play out
within a local run. The poller survives any error: it reports it, releases what it had received, and
polls again, as Lambda's does.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

LOG = logging.getLogger(__name__)
_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024  # an event source mapping's batch stops at 6 MB of payload
_LARGEST_SQS_RECORD = 300 * 1024  # an SQS message (256 KiB) with its record's fields
# An idle poller long-polls, as Lambda's does (a short poll in a loop is a core spent on nothing), but
# for a second, not 20: stopping the emulator waits for the poll in progress.
_IDLE_WAIT_S = 1


class SqsEventSource(threading.Thread):
    """Lambda's SQS event source mapping: batch size, batching window, partial batch responses.

    Messages a function fails become visible again after `retry_after` seconds instead of the
    queue's visibility timeout (12 minutes), so that retries and the dead-letter queue's
    maxReceiveCount play out within a local run.
    """

    def __init__(
        self,
        clients: tuple[SQSClient, LambdaClient],
        queue: tuple[str, str],
        function_name: str,
        properties: dict[str, Any],
        region: str,
        retry_after: int = 1,
    ) -> None:
        """`clients`: SQS and Lambda; `queue`: its URL and ARN; `properties`: the SQS event's in the template."""
        super().__init__(name=f"esm-{function_name}", daemon=True)
        self.sqs, self.lambda_ = clients
        self.queue_url, self.queue_arn = queue
        self.function_name = function_name
        self.batch_size = int(properties.get("BatchSize", 10))
        self.window = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self.partial = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        self.region = region
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.retry_after = retry_after
        self.messages_handled = 0
        self.messages_failed = 0
        self.invocations = 0
        self.largest_payload = 0  # bytes of the largest batch delivered
        self.errors: list[str] = []  # the poller's own
        self.function_errors: list[str] = []  # the function's unhandled errors, in its own words
        self.results: list[Any] = []  # what the function returned, invocation by invocation

    def run(self) -> None:
        while not self.stopping.is_set():
            messages: list[MessageTypeDef] = []
            try:
                messages = self._collect()
                if messages:
                    self.idle.clear()
                    self._deliver(messages)
                else:
                    self.idle.set()
            except Exception as error:  # as Lambda's poller does: report, back off, poll again
                if self.stopping.is_set():  # the emulator stopped its server while this polled
                    return
                self.errors.append(repr(error))
                LOG.warning("event source %s: %s", self.name, error)
                self._release(messages)
                self.stopping.wait(1.0)

    def _release(self, messages: list[MessageTypeDef]) -> None:
        """Messages a failed poll had received become visible again soon, not after the visibility timeout."""
        for message in messages:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_after
                )
            except Exception as error:  # already deleted, or the queue is gone: the queue's own timeout applies
                self.errors.append(repr(error))

    def _collect(self) -> list[MessageTypeDef]:
        """A batch as Lambda's poller gathers one: up to the batch size, the batching window, or 6 MB
        of invocation payload, whichever comes first."""
        messages: list[MessageTypeDef] = []
        deadline = None
        payload = 0
        while len(messages) < self.batch_size and not self.stopping.is_set():
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=_IDLE_WAIT_S if self.idle.is_set() and not messages else 0,
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

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
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

    def _deliver(self, messages: list[MessageTypeDef]) -> None:
        payload = json.dumps({"Records": [self._record(m) for m in messages]}).encode()
        self.largest_payload = max(self.largest_payload, len(payload))
        response = self.lambda_.invoke(FunctionName=self.function_name, Payload=payload)
        self.invocations += 1
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            failed = {m["MessageId"] for m in messages}  # the whole batch is retried
            error = payload if isinstance(payload, dict) else {}
            # Every message of the batch failing is the messages' fault (retried, then dead-lettered);
            # anything else the function raised is its own: a refusal of its settings, a bug.
            if error.get("errorType") != "BatchProcessingError":
                self.function_errors.append(f"{error.get('errorType', 'Error')}: {error.get('errorMessage', payload)}")
        else:
            self.results.append(payload)
            partial = payload.get("batchItemFailures", []) if self.partial and isinstance(payload, dict) else []
            failed = {f["itemIdentifier"] for f in partial}
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
