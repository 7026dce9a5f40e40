"""Every moto internal the emulator patches, in one list, for the one moto version it is written for.

moto is pinned exactly (requirements.lock) because these are internals: `verify()` fails loudly when
the version or any patch point moved (the guard test runs it), and `install()` applies every patch
once. What each patch does lives with the code it serves:

- Step Functions' Distributed Map: `map_reading` (the grammar's gaps, the ItemReader, ItemSelector,
  ItemBatcher), `map_children` (running children within AWS's limits, retries without sleeping; a
  throttled Lambda task's retry waits for the function's slot instead),
  `map_results` (the ResultWriter's files);
- Lambda: `lambda_runtime` runs the real handlers in execution environments of their own;
  `lambda_account` holds the account's concurrency quota and refuses reservations as AWS does;
- S3: notifications name the object's version, as AWS's do for a versioned bucket; EventBridge's
  Object Created events have AWS's fields (`etag`, the request as `reason`); `s3_listing`
  answers each ListObjectsV2 page in the time of a page;
- Glue: UpdateTable refuses a stale `VersionId` (`glue_versions`), so concurrent Iceberg commits conflict
  and retry instead of overwriting each other;
- the server: moto lists its own package directory (~175 `stat`s) twice per request to find a
  backend; the listing never changes while the process runs, so it is made once: about a third of
  the CPU moto spends on a small S3 request, paid under the emulator's GIL.

`python -m landfall_emulator.moto_compat -H 127.0.0.1 -p PORT` runs moto's own server with the
server patch applied (what `make bench` uses for its stand-in S3).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

import moto
from moto import backends
from moto import server as moto_server
from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda import urls as lambda_urls
from moto.core.utils import unix_time
from moto.events import models as events_models
from moto.glue import responses as glue_responses
from moto.s3 import models as s3_models
from moto.s3 import notifications
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map as state_map_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_component
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as writer_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.parse import asl_parser

from landfall_emulator import (
    glue_versions,
    lambda_account,
    lambda_runtime,
    map_children,
    map_reading,
    map_results,
    s3_listing,
)

MOTO_VERSION = "5.2.5"


class PatchPointMoved(RuntimeError):
    """moto changed an internal the emulator patches: re-check the patch against it."""


_original_list_of_moto_modules = backends.list_of_moto_modules
_original_s3_event = notifications._get_s3_event


@functools.cache
def _moto_modules() -> tuple[str, ...]:
    return tuple(_original_list_of_moto_modules())


def _s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _original_s3_event(event_name, bucket, key, notification_id)
    version_id = getattr(key, "version_id", None)
    if version_id and version_id != "null":  # "null": written while versioning was off or suspended
        for record in event["Records"]:
            record["s3"]["object"]["versionId"] = version_id
    return event


# the request each S3 event name stands for, as EventBridge's Object Created events name it
_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    """The event as S3 sends it to EventBridge (moto's spells `etag` as `eTag`), to every rule of the
    region's buses, each of which matches its pattern first."""
    if event_name not in _REASONS:
        return  # the pipeline's rule matches Object Created only
    version_id = getattr(key, "version_id", None)
    obj = {"key": key.name, "size": key.size, "etag": key.etag.strip('"'), "sequencer": f"{key.size:016X}"}
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    event: Any = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account_id,
        "time": unix_time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _REASONS[event_name],
        },
    }
    for bus in events_models.events_backends[account_id][bucket.region_name].event_buses.values():
        for rule in bus.rules.values():
            if rule.state == "ENABLED":
                rule.send_to_targets(event, transform_input=False)


@dataclass(frozen=True)
class Patch:
    owner: Any
    name: str
    replacement: Any  # None: relied on as it is, not replaced
    adds: bool = False  # a name moto lacks: it must still lack it (or have it from us)


PATCHES: tuple[Patch, ...] = (
    Patch(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(map_reading.parse)),
    Patch(state_map_module.StateMap, "from_state_props", map_reading.from_state_props),
    Patch(reader_s3.ResourceEvalS3, "_handle_list_objects_v2", staticmethod(map_reading.list_objects_v2)),
    Patch(distributed.DistributedIterationComponent, "_map_run", map_children.map_run),
    Patch(iteration_component.IterationComponent, "_get_iteration_program", None),
    Patch(retrier_decl, "time", map_children.retry_clock),
    Patch(retrier_decl.RetrierDecl, "_eval_body", map_children.retrier_eval_body),
    Patch(StateTaskServiceLambda, "_eval_service_task", map_children.lambda_task_eval),
    Patch(StateTaskServiceLambda, "_from_error", map_children.lambda_task_error),
    Patch(result_writer_decl.ResultWriter, "_eval_body", map_results.result_writer_eval_body),
    Patch(writer_s3.ResourceEvalS3, "_handle_put_object", staticmethod(map_results.put_object)),
    Patch(writer_s3.ResourceEvalS3, "_get_s3_client", None),
    Patch(lambda_models.LambdaFunction, "_invoke_lambda", lambda_runtime.invoke_lambda),
    Patch(lambda_models.LambdaBackend, "put_function_concurrency", lambda_account.put_function_concurrency),
    Patch(lambda_responses.LambdaResponse, "get_account_settings", lambda_account.get_account_settings, adds=True),
    Patch(lambda_urls, "url_paths", lambda_account.url_paths()),
    Patch(notifications, "_get_s3_event", _s3_event),
    Patch(notifications, "_send_event_bridge_message", _send_event_bridge_message),
    Patch(s3_models.S3Backend, "list_objects_v2", s3_listing.list_objects_v2),
    Patch(glue_responses.GlueResponse, "update_table", glue_versions.update_table),
    Patch(backends, "list_of_moto_modules", _moto_modules),
)


def _defines(owner: Any, name: str) -> bool:
    """A class's own attribute (an inherited one would mean the patch point moved), a module's any."""
    return name in vars(owner) if isinstance(owner, type) else hasattr(owner, name)


def _in_place(patch: Patch) -> bool:
    """The patch point is as the patch expects: there to replace, or (an addition) absent unless added."""
    if patch.adds:
        return getattr(patch.owner, patch.name, patch.replacement) is patch.replacement
    return _defines(patch.owner, patch.name)


def verify() -> None:
    """Fail loudly unless moto is the version these patches are written for, with every patch point."""
    if moto.__version__ != MOTO_VERSION:
        raise PatchPointMoved(f"the emulator is written for moto {MOTO_VERSION}, found {moto.__version__}")
    missing = [f"{getattr(p.owner, '__name__', p.owner)}.{p.name}" for p in PATCHES if not _in_place(p)]
    if missing:
        raise PatchPointMoved(f"moto internals moved: {', '.join(missing)}")


def install() -> None:
    """Apply every patch; idempotent."""
    verify()
    for patch in PATCHES:
        if patch.replacement is not None:
            setattr(patch.owner, patch.name, patch.replacement)


if __name__ == "__main__":
    verify()
    backends.list_of_moto_modules = _moto_modules
    moto_server.main()
