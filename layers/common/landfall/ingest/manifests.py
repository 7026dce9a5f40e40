"""Write a manifest and start the run that processes it, exactly once per manifest content.

A manifest is JSON lines, one `ManifestBatch` per line (the objects of one Distributed Map child, cut
by `landfall.ingest.batching`), its objects sorted by (bucket, key, version). The run id (and the execution
name) is a hash of that content: the same objects always make the same run, so a redelivered
notification batch or a repeated backfill starts no second execution.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from landfall.core.layout import manifest_key
from landfall.core.messages import S3Location
from landfall.core.observability import logger
from landfall.core.writers import upload_file
from landfall.ingest.batching import Batcher, BatchLimits
from landfall.ingest.messages import ExecutionInput, ManifestItem, RunConfig, Source

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

_SPOOL_BYTES = 1 << 20  # a manifest larger than this is spooled to disk while it is written


class ConflictingRunError(RuntimeError):
    """An execution with this run's name exists with a different input."""


class ManifestBuilder:
    """Builds a manifest from items given in manifest order, in memory that does not grow with it."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._batcher = Batcher(BatchLimits.of(config))
        self._body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed in upload
        self._digest = hashlib.sha256()
        self._last: tuple[str, str, str] | None = None
        self._finished = False
        self.objects = 0
        self.bytes = 0

    def add(self, item: ManifestItem) -> None:
        order = _order(item)
        if self._last is not None and order <= self._last:
            raise ValueError(f"manifest items out of order or repeated: {item.key!r}")
        self._last = order
        self._write(self._batcher.add(item))
        self.objects += 1
        self.bytes += item.size

    def _write(self, line: bytes | None) -> None:
        if line:
            self._body.write(line)
            self._digest.update(line)

    def finish(self) -> None:
        """Close the last batch; nothing may be added after."""
        if not self._finished:
            self._write(self._batcher.close())
            self._finished = True

    @property
    def batches(self) -> int:
        return self._batcher.batches

    def run_id(self, source: Source) -> str:
        self.finish()
        return f"{source}-{self._digest.hexdigest()[:32]}"

    def upload(self, s3_client: S3Client, location: S3Location) -> None:
        self.finish()
        with self._body:
            self._body.seek(0)
            upload_file(s3_client, self._body, location.bucket, location.key)


def _order(item: ManifestItem) -> tuple[str, str, str]:
    return (item.bucket, item.key, item.version_id or "")


@dataclass(frozen=True)
class StartedRun:
    execution_input: ExecutionInput
    new: bool  # False: the run had started already (the same objects, notified or listed again)

    @property
    def run_id(self) -> str:
        return self.execution_input.run_id


@dataclass(frozen=True)
class RunStarter:
    """The one way runs start (notifications, backfill, redrive): write the manifest, then start the
    execution named after it, with this deployment's state machine, bucket and settings."""

    s3_client: S3Client
    sfn_client: SFNClient
    state_machine_arn: str
    bucket: str
    config: RunConfig

    def builder(self) -> ManifestBuilder:
        return ManifestBuilder(self.config)

    def start_items(self, items: Iterable[ManifestItem], source: Source) -> StartedRun | None:
        """The run of `items`, in any order (the same object twice is one); None when there are none."""
        builder = self.builder()
        unique = {_order(item): item for item in items}
        for order in sorted(unique):
            builder.add(unique[order])
        return self.start(builder, source)

    def start(self, builder: ManifestBuilder, source: Source) -> StartedRun | None:
        """Upload a built manifest (before anything runs) and start its execution."""
        if not builder.objects:
            return None
        run_id = builder.run_id(source)
        location = S3Location(bucket=self.bucket, key=manifest_key(source, run_id))
        builder.upload(self.s3_client, location)
        execution_input = ExecutionInput(
            run_id=run_id,
            source=source,
            manifest=location,
            objects=builder.objects,
            bytes=builder.bytes,
            batches=builder.batches,
            output_bucket=self.bucket,
            config=builder.config,
        )
        new = start_execution(execution_input, sfn_client=self.sfn_client, state_machine_arn=self.state_machine_arn)
        return StartedRun(execution_input, new)


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{run_id}"


def start_execution(execution_input: ExecutionInput, *, sfn_client: SFNClient, state_machine_arn: str) -> bool:
    """Start the run's execution; False if it exists already with the same input (a different input
    under the same name is an error).

    Looked up first: StartExecution answers a repeat of a running execution with success, which
    would hide that nothing new started."""
    payload = execution_input.model_dump_json()
    run_id = execution_input.run_id
    arn = execution_arn(state_machine_arn, run_id)
    if _exists(sfn_client, arn, payload):
        logger.info("run already started", extra={"run_id": run_id})
        return False
    try:
        sfn_client.start_execution(stateMachineArn=state_machine_arn, name=run_id, input=payload)
    except sfn_client.exceptions.ExecutionAlreadyExists:  # started meanwhile by a concurrent delivery
        _exists(sfn_client, arn, payload)
        logger.info("run already started", extra={"run_id": run_id})
        return False
    logger.info("run started", extra={"run_id": run_id, "objects": execution_input.objects})
    return True


def _exists(sfn_client: SFNClient, arn: str, payload: str) -> bool:
    try:
        existing = sfn_client.describe_execution(executionArn=arn)
    except sfn_client.exceptions.ExecutionDoesNotExist:
        return False
    if json.loads(existing["input"]) != json.loads(payload):
        raise ConflictingRunError(f"execution {arn.rsplit(':', 1)[-1]} exists with a different input")
    return True
