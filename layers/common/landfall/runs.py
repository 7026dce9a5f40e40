"""Write a manifest and start the run that processes it, exactly once per manifest content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from landfall.models import ExecutionInput, ManifestItem, RunConfig, S3Location, Source
from landfall.observability import logger
from landfall.outputs import manifest_key


class ConflictingRunError(RuntimeError):
    """An execution with this run's name exists with a different input."""


def manifest_body(items: Sequence[ManifestItem]) -> bytes:
    lines = (item.model_dump_json(exclude_none=True) for item in sorted(items, key=_order))
    return "".join(f"{line}\n" for line in lines).encode()


def _order(item: ManifestItem) -> tuple[str, str, str]:
    return (item.bucket, item.key, item.version_id or "")


def run_id_for(source: Source, body: bytes) -> str:
    """Derived from the manifest's content: the same objects always make the same run."""
    return f"{source}-{hashlib.sha256(body).hexdigest()[:32]}"


def start_run(
    items: Sequence[ManifestItem],
    source: Source,
    *,
    s3_client,
    sfn_client,
    state_machine_arn: str,
    bucket: str,
    config: RunConfig,
) -> ExecutionInput | None:
    """Write the manifest of `items` and start its execution; None when there is nothing to do."""
    if not items:
        return None
    body = manifest_body(items)
    run_id = run_id_for(source, body)
    location = S3Location(bucket=bucket, key=manifest_key(source, run_id))
    s3_client.put_object(Bucket=location.bucket, Key=location.key, Body=body)
    execution_input = ExecutionInput(
        run_id=run_id,
        source=source,
        manifest=location,
        objects=len(items),
        bytes=sum(item.size for item in items),
        output_bucket=bucket,
        config=config,
    )
    payload = execution_input.model_dump_json()
    try:
        sfn_client.start_execution(stateMachineArn=state_machine_arn, name=run_id, input=payload)
    except sfn_client.exceptions.ExecutionAlreadyExists:
        arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{run_id}"
        existing = sfn_client.describe_execution(executionArn=arn)
        if json.loads(existing["input"]) != json.loads(payload):
            raise ConflictingRunError(f"execution {run_id} exists with a different input") from None
        logger.info("run already started", extra={"run_id": run_id})
    else:
        logger.info("run started", extra={"run_id": run_id, "objects": len(items)})
    return execution_input
