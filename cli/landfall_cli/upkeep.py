"""`landfall compact`: start the table's upkeep run now (the schedule starts the same), follow it to its
end and say in one line what it did; its report is `landfall report UPKEEP_ID`."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from landfall.core.layout import report_key
from landfall.upkeep.messages import UpkeepReport
from landfall_cli.target import TargetError

if TYPE_CHECKING:
    from landfall_cli.target import Target


class UpkeepError(RuntimeError):
    """The run did not end in time."""


def start_upkeep(target: Target, partitions: list[str], housekeep: bool) -> str:
    """Start an upkeep run; its id (the execution's name, which its files and report are under)."""
    arn = target.outputs.get("UpkeepStateMachineArn")
    if arn is None:
        raise TargetError(f"{target.where} has no upkeep state machine: deploy this version of the template")
    upkeep_id = f"upkeep-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    request = {"partitions": partitions, "housekeep": housekeep}
    target.sfn.start_execution(stateMachineArn=arn, name=upkeep_id, input=json.dumps(request))
    return upkeep_id


def wait_for_upkeep(target: Target, upkeep_id: str, timeout: float, interval: float = 1.0) -> UpkeepReport | None:
    """The run's report once it ended (None: it ended without one, e.g. its plan failed)."""
    execution = target.outputs["UpkeepStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{upkeep_id}"
    deadline = time.monotonic() + timeout
    while target.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise UpkeepError(f"{upkeep_id} is still running after {timeout:g} s")
        time.sleep(interval)
    try:
        body = target.s3.get_object(Bucket=target.pipeline_bucket, Key=report_key(upkeep_id))["Body"].read()
    except target.s3.exceptions.NoSuchKey:
        return None
    return UpkeepReport.model_validate_json(body)


def upkeep_line(upkeep_id: str, report: UpkeepReport | None) -> str:
    """What the run did, in one line."""
    if report is None:
        return f"{upkeep_id}: FAILED before its report (see the execution's history)"
    done = report.compaction
    line = (
        f"{upkeep_id}: {report.status} — {done.compacted} partitions compacted "
        f"({done.files_in:,} files → {done.files_out:,}), {done.given_up} given up, {done.failed} failed"
    )
    if report.housekeeping is not None:
        swept = report.housekeeping.orphans
        deleted = swept.data.deleted + swept.metadata.deleted
        line += f"; {report.housekeeping.expiry.expired} snapshots expired, {deleted} unneeded files deleted"
    if report.cost is not None:
        line += f"; ${report.cost.total_usd:.4f}"
    return line + (f" ({report.status_reason})" if report.status_reason else "")
