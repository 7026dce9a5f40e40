"""Close the gaps between moto's Step Functions interpreter and AWS's Distributed Map.

moto (pinned exactly) parses ASL with a grammar that lacks ItemBatcher, WriterConfig, JSONL input
and EXPRESS children, ignores tolerated failures, writes an empty ResultWriter manifest, reads only the
first page of listObjectsV2 and runs each worker's items by recursion. `install()` patches the few
internals listed in PATCH_POINTS; `verify_patch_points()` fails loudly if any of them moves.

What the patched engine does, as AWS documents it:
- the definition is parsed with the fields the grammar lacks set aside and re-attached to the Map;
- items come from the ItemReader (JSON, CSV, JSONL, or every page of listObjectsV2 in AWS's item
  shape), pass through ItemSelector, and are batched by ItemBatcher (MaxItemsPerBatch[Path],
  MaxInputBytesPerBatch[Path], BatchInput) into `{"BatchInput": ..., "Items": [...]}`;
- children run on a thread pool of MaxConcurrency; each child is an iteration of the item processor;
- failed and timed-out items count against ToleratedFailureCount/Percentage; past the threshold no
  more children start (their items are PENDING) and the state fails with
  States.ExceedToleratedFailureThreshold, after the ResultWriter has written its files;
- ResultWriter writes manifest.json and SUCCEEDED_n / FAILED_n / PENDING_n in the WriterConfig's
  OutputType and Transformation.

And it keeps AWS's limits where a pipeline could break on them: a child's input over 256 KiB fails
that child with States.DataLimitExceeded (moto itself checks each state's output), and an EXPRESS
child stops at 5 minutes (`limits.express_seconds`, which a test may scale down), the waits of its
retries included even though the engine skips them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import moto
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map as state_map_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
    ResourceOutputTransformer,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as writer_s3,
)
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.utils.json_path import extract_json
from moto.stepfunctions.parser.quotas import is_within_size_quota

MOTO_VERSION = "5.2.5"

# (module, attribute) of every moto internal this module replaces or relies on.
PATCH_POINTS: tuple[tuple[Any, str], ...] = (
    (asl_parser.AmazonStateLanguageParser, "parse"),
    (distributed.DistributedIterationComponent, "_map_run"),
    (distributed.DistributedIterationComponent, "_get_iteration_program"),
    (reader_s3.ResourceEvalS3, "_handle_list_objects_v2"),
    (writer_s3.ResourceEvalS3, "_handle_put_object"),
    (result_writer_decl.ResultWriter, "_eval_body"),
    (writer_s3.ResourceEvalS3, "_get_s3_client"),
    (retrier_decl, "time"),
    (retrier_decl.RetrierDecl, "_eval_body"),
    (state_map_module.StateMap, "from_state_props"),
)

# The largest result file the ResultWriter writes before starting the next one (AWS: 5 GB).
MAX_RESULT_FILE_BYTES = 5 * 1024**3
_EXT = "_landfall_map_extension"
_RESULTS = "_landfall_results"


class PatchPointMoved(RuntimeError):
    """moto changed an internal the local engine patches: re-check asl_extensions against it."""


def verify_patch_points() -> None:
    if moto.__version__ != MOTO_VERSION:
        raise PatchPointMoved(f"the local engine is written for moto {MOTO_VERSION}, found {moto.__version__}")
    missing = [
        f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in PATCH_POINTS if not hasattr(owner, name)
    ]
    if missing:
        raise PatchPointMoved(f"moto internals moved: {', '.join(missing)}")


# ------------------------------------------------------------------------------------------ retries


@dataclass
class EngineLimits:
    express_seconds: float = 300.0  # an EXPRESS execution's longest life, retries and waits included


limits = EngineLimits()


class RetryClock:
    """Stands in for `time` in moto's retrier: records every backoff, sleeps only when asked to.

    A wait it skips still counts against the child it happened in (an EXPRESS child's 5 minutes);
    `scale` sleeps that share of each wait for real (tests of throttling need waits that overlap)."""

    def __init__(self) -> None:
        self.real_sleeps = True
        self.scale = 0.0
        self.requested: list[float] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def bind(self, child: ChildResult | None) -> None:
        """The child whose retries this thread runs (None: none)."""
        self._local.child = child

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.requested.append(seconds)
        if self.real_sleeps:
            time.sleep(seconds)
            return
        child = getattr(self._local, "child", None)
        if child is not None:
            child.waited += seconds
        if self.scale:
            time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


retry_clock = RetryClock()

_original_retrier_eval = retrier_decl.RetrierDecl._eval_body
_CHILD = "_landfall_child"  # the child a frame (an Environment) runs, set where the child starts


def _retrier_eval_body(self, env) -> None:
    """A retrier runs on moto's program thread: tell the clock whose waits these are."""
    retry_clock.bind(getattr(env, _CHILD, None))
    try:
        _original_retrier_eval(self, env)
    finally:
        retry_clock.bind(None)


# ------------------------------------------------------------------------------------------ parsing


@dataclass
class MapExtension:
    """The fields of one Distributed Map state that moto's grammar lacks."""

    item_batcher: dict[str, Any] | None = None
    writer_config: dict[str, Any] = field(default_factory=dict)
    jsonl_reader: bool = False
    express: bool = False
    tolerance_fields: frozenset[str] = frozenset()
    result_writer: Any = None  # the parsed ResultWriter, to write results when the map fails


def _set_aside(states: dict[str, Any], found: dict[str, MapExtension]) -> None:
    """Remove what the grammar rejects from every Distributed Map, remembering it by state name."""
    for name, state in states.items():
        if state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            config = processor.get("ProcessorConfig", {})
            if config.get("Mode") == "DISTRIBUTED":
                ext = MapExtension(
                    item_batcher=state.pop("ItemBatcher", None),
                    tolerance_fields=frozenset(k for k in state if k.startswith("ToleratedFailure")),
                )
                if isinstance(state.get("ToleratedFailurePercentage"), int):
                    state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
                writer = state.get("ResultWriter")
                if writer is not None:
                    ext.writer_config = writer.pop("WriterConfig", None) or {}
                    if not writer:
                        state.pop("ResultWriter")
                reader_config = (state.get("ItemReader") or {}).get("ReaderConfig") or {}
                if reader_config.get("InputType") == "JSONL":
                    reader_config["InputType"] = "JSON"
                    ext.jsonl_reader = True
                if config.get("ExecutionType") == "EXPRESS":
                    config["ExecutionType"] = "STANDARD"
                    ext.express = True
                found[name] = ext
            _set_aside(processor.get("States", {}), found)
        for branch in state.get("Branches", []):
            _set_aside(branch.get("States", {}), found)


_original_parse = asl_parser.AmazonStateLanguageParser.parse
_parse_local = threading.local()


def _parse(definition: str):
    document = json.loads(definition)
    found: dict[str, MapExtension] = {}
    _set_aside(document.get("States", {}), found)
    _parse_local.found = found
    try:
        return _original_parse(json.dumps(document))
    finally:
        _parse_local.found = {}


_original_from_state_props = state_map_module.StateMap.from_state_props


def _from_state_props(self, state_props) -> None:
    """Re-attach what `_parse` set aside to the Map state being built."""
    _original_from_state_props(self, state_props)
    ext = getattr(_parse_local, "found", {}).get(self.name)
    if ext is None or not isinstance(self.iteration_component, distributed.DistributedIterationComponent):
        return
    ext.result_writer = self.result_writer
    setattr(self.iteration_component, _EXT, ext)
    if ext.jsonl_reader and self.item_reader is not None:
        self.item_reader.resource_output_transformer = JsonLinesTransformer()


class JsonLinesTransformer(ResourceOutputTransformer):
    """ReaderConfig InputType JSONL: one item per non-blank line."""

    def _eval_body(self, env) -> None:
        reader_config = env.stack.pop()
        content: str = env.stack.pop()
        items = [json.loads(line) for line in content.splitlines() if line.strip()]
        env.stack.append(items[: reader_config["MaxItemsValue"]])


# ------------------------------------------------------------------------------------------ reading


def _list_objects_v2(env, resource_runtime_part, state_credentials) -> None:
    """Every page, each object in the shape AWS gives Map items (Etag, Key, LastModified, Size, StorageClass)."""
    s3 = reader_s3.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    parameters = env.stack.pop()
    items = []
    for page in s3.get_paginator("list_objects_v2").paginate(**parameters):
        for obj in page.get("Contents", []):
            items.append(
                {
                    "Etag": obj["ETag"],
                    "Key": obj["Key"],
                    "LastModified": int(obj["LastModified"].timestamp()),
                    "Size": obj["Size"],
                    "StorageClass": obj.get("StorageClass", "STANDARD"),
                }
            )
    env.stack.append(items)


# ------------------------------------------------------------------------------------------ map run


@dataclass
class ChildResult:
    index: int
    input: Any
    items: int
    status: str = "PENDING"  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING
    name: str = field(default_factory=lambda: str(uuid.uuid4()))
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start: datetime | None = None
    stop: datetime | None = None
    express: bool = False
    started_at: float = 0.0  # time.monotonic() when it started
    waited: float = 0.0  # seconds of retry waits the engine skipped
    ended: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def age(self) -> float:
        """Seconds since it started as AWS would count them: skipped waits included."""
        return time.monotonic() - self.started_at + self.waited


def _resolve(template: Any, state_input: Any, context: Any) -> Any:
    """Evaluate a payload template's `key.$` paths (`$` state input, `$$` context object)."""
    if isinstance(template, dict):
        resolved = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or not value.startswith("$"):
                    raise ValueError(f"local engine: only paths are supported in BatchInput, got {value!r}")
                source = context if value.startswith("$$") else state_input
                resolved[key[:-2]] = extract_json(value[1:] if value.startswith("$$") else value, source)
            else:
                resolved[key] = _resolve(value, state_input, context)
        return resolved
    if isinstance(template, list):
        return [_resolve(value, state_input, context) for value in template]
    return template


def _limit(batcher: dict[str, Any], name: str, state_input: Any) -> int | None:
    if name in batcher:
        return int(batcher[name])
    if f"{name}Path" in batcher:
        return int(extract_json(batcher[f"{name}Path"], state_input))
    return None


def _batches(items: list[Any], batcher: dict[str, Any] | None, state_input: Any, context: Any) -> list[ChildResult]:
    if batcher is None:
        return [ChildResult(index=i, input=item, items=1) for i, item in enumerate(items)]
    max_items = _limit(batcher, "MaxItemsPerBatch", state_input)
    max_bytes = _limit(batcher, "MaxInputBytesPerBatch", state_input)
    # without BatchInput, AWS gives each child {"Items": [...]} only
    envelope_of = (
        {"BatchInput": _resolve(batcher["BatchInput"], state_input, context)} if "BatchInput" in batcher else {}
    )
    envelope = len(json.dumps({**envelope_of, "Items": []}))
    batches: list[list[Any]] = []
    current: list[Any] = []
    size = envelope
    for item in items:
        item_size = len(json.dumps(item)) + (1 if current else 0)
        if max_bytes is not None and envelope + item_size > max_bytes:
            raise ValueError(f"an item of {item_size} bytes exceeds MaxInputBytesPerBatch ({max_bytes})")
        full = (max_items is not None and len(current) >= max_items) or (
            max_bytes is not None and size + item_size > max_bytes
        )
        if full:
            batches.append(current)
            current, size = [], envelope
            item_size = len(json.dumps(item))
        current.append(item)
        size += item_size
    if current:
        batches.append(current)
    return [
        ChildResult(index=i, input={**envelope_of, "Items": batch}, items=len(batch)) for i, batch in enumerate(batches)
    ]


def _now() -> datetime:
    return datetime.now(UTC)


_COUNTERS = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out", "ABORTED": "aborted"}
_TOO_LARGE = "The input to the child execution has a size exceeding the maximum number of bytes service limit."


def _end_child(child: ChildResult, record, status: str, error=None, cause=None, output=None) -> bool:
    """Record how a child ended, once: the first to end it (the child itself, or the watchdog of an
    EXPRESS child's 5 minutes) wins; what comes later is ignored, as AWS ignores a stopped child."""
    if child.express and child.age() > limits.express_seconds:  # e.g. its skipped retry waits took it past
        status, error, output = "TIMED_OUT", "States.Timeout", None
        cause = f"The execution ran longer than {limits.express_seconds:g} seconds (EXPRESS)"
    with child.lock:
        if child.ended:
            return False
        child.ended = True
        child.status, child.error, child.cause, child.output = status, error, cause, output
        child.stop = _now()
    record.execution_counter.running.offset(-1)
    record.item_counter.running.offset(-child.items)
    for counter in (record.execution_counter, record.item_counter):
        n = 1 if counter is record.execution_counter else child.items
        getattr(counter, _COUNTERS[status]).count(n)
        counter.results_written.count(n)
    return True


def _start_child(child: ChildResult, record) -> None:
    child.start, child.started_at = _now(), time.monotonic()
    record.execution_counter.running.count()
    record.item_counter.running.count(child.items)


def _run_child(env, program, child: ChildResult, record) -> None:
    if not is_within_size_quota(child.input):
        _end_child(child, record, "FAILED", "States.DataLimitExceeded", _TOO_LARGE)
        return
    frame = env.open_inner_frame()
    setattr(frame, _CHILD, child)
    try:
        frame.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=child.index, Value=child.input)
        )
        frame.states.reset(child.input)
        frame.stack.append(frame.states.get_input())
        program.eval(frame)
        outcome = frame.program_state()
        if isinstance(outcome, ProgramError):
            error = outcome.error or {}
            _end_child(child, record, "FAILED", error.get("error"), error.get("cause"))
        elif isinstance(outcome, ProgramTimedOut):
            _end_child(child, record, "TIMED_OUT", "States.Timeout")
        elif isinstance(outcome, ProgramStopped):
            _end_child(child, record, "ABORTED")
        else:
            _end_child(child, record, "SUCCEEDED", output=frame.states.get_input())
    except EvalTimeoutError:
        _end_child(child, record, "TIMED_OUT", "States.Timeout")
    except FailureEventException as failure:
        pair = failure.extract_error_cause_pair() or (None, None)
        _end_child(child, record, "FAILED", pair[0], pair[1])
    except Exception as error:  # an engine fault fails this child, visibly, like States.Runtime
        _end_child(child, record, "FAILED", "States.Runtime", repr(error))
    finally:
        env.delete_frame(frame)


def _stop_expired(running: dict[Future, ChildResult], record) -> list[ChildResult]:
    """EXPRESS children past their limit are timed out; the map goes on without waiting for them."""
    expired = []
    for future, child in list(running.items()):
        if child.age() > limits.express_seconds and _end_child(child, record, "TIMED_OUT"):
            expired.append(running.pop(future))
    return expired


def _select_items(env, eval_input, items: list[Any]) -> list[Any]:
    """Apply ItemSelector (or legacy Parameters) to each item, as AWS does before batching."""
    selector = eval_input.item_selector or eval_input.parameters
    if selector is None:
        return items
    state_input = env.states.get_input()
    selected = []
    for index, item in enumerate(items):
        frame = env.open_inner_frame()
        try:
            frame.states.context_object.context_object_data["Map"] = MapData(Item=ItemData(Index=index, Value=item))
            frame.states.reset(input_value=state_input)
            frame.stack.append(state_input)
            selector.eval(frame)
            selected.append(frame.stack[-1])
        finally:
            env.delete_frame(frame)
    return selected


def _threshold_exceeded(ext: MapExtension, eval_input, failed_items: int, total_items: int) -> bool:
    if failed_items == 0:
        return False
    fields = ext.tolerance_fields
    count_set = bool(fields & {"ToleratedFailureCount", "ToleratedFailureCountPath"})
    percentage_set = bool(fields & {"ToleratedFailurePercentage", "ToleratedFailurePercentagePath"})
    if not count_set and not percentage_set:
        return True  # zero tolerance by default
    if count_set and failed_items > eval_input.tolerated_failure_count:
        return True
    return percentage_set and 100.0 * failed_items / total_items > eval_input.tolerated_failure_percentage


def _map_run(self, env, eval_input) -> None:
    """Run a Distributed Map's children as AWS does (see the module docstring)."""
    items: list[Any] = env.stack.pop()
    ext: MapExtension = getattr(self, _EXT, None) or MapExtension()
    record = eval_input.map_run_record
    program = self._get_iteration_program()
    context = env.states.context_object.context_object_data
    try:
        children = _batches(_select_items(env, eval_input, items), ext.item_batcher, env.states.get_input(), context)
    except ValueError as error:
        raise _failure(env, StatesErrorNameType.StatesRuntime, str(error)) from None
    for child in children:
        child.express = ext.express
    setattr(record, _RESULTS, children)
    record._landfall_extension = ext
    total_items = sum(child.items for child in children)
    record.item_counter.total.count(total_items)
    record.execution_counter.total.count(len(children))

    concurrency = eval_input.max_concurrency or 10_000
    waiting = list(reversed(children))
    failed_items = 0
    exceeded = False
    pool = ThreadPoolExecutor(max_workers=min(concurrency, 256, max(len(children), 1)))
    try:
        running: dict[Future, ChildResult] = {}
        while waiting or running:
            while waiting and not exceeded and len(running) < concurrency:
                child = waiting.pop()
                _start_child(child, record)
                running[pool.submit(_run_child, env, program, child, record)] = child
            if not running:
                break
            done, _ = wait(running, timeout=0.1 if ext.express else None, return_when=FIRST_COMPLETED)
            ended = []
            for future in done:
                future.result()  # raises what escaped the child's runner: an engine fault
                ended.append(running.pop(future))
            if ext.express:
                ended += _stop_expired(running, record)
            failed_items += sum(child.items for child in ended if child.status in ("FAILED", "TIMED_OUT"))
            exceeded = exceeded or _threshold_exceeded(ext, eval_input, failed_items, total_items)
    finally:
        pool.shutdown(wait=False)  # a timed-out EXPRESS child's thread ends with its task, unwaited for

    outputs = [child.output for child in children]
    if exceeded:
        if ext.result_writer is not None:
            env.stack.append(outputs)
            ext.result_writer.eval(env)
            env.stack.pop()
        raise _failure(
            env,
            StatesErrorNameType.StatesExceedToleratedFailureThreshold,
            "The specified tolerated failure threshold was exceeded",
        )
    env.stack.append(outputs)


def _failure(env, error_type: StatesErrorNameType, cause: str) -> FailureEventException:
    error_name = StatesErrorName(typ=error_type)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.MapRunFailed,
            event_details={
                "mapRunFailedEventDetails": MapRunFailedEventDetails(error=error_name.error_name, cause=cause)
            },
        )
    )


# ------------------------------------------------------------------------------------------ results


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _result_record(child: ChildResult, map_run_arn: str, state_machine_arn: str) -> dict[str, Any]:
    if child.status == "PENDING":
        return {"Input": json.dumps(child.input), "InputDetails": {"Included": True}, "Status": "PENDING"}
    execution_arn = map_run_arn.replace(":mapRun:", ":execution:").rsplit(":", 1)[0] + f":{child.name}"
    redrivable = child.status != "SUCCEEDED"
    record: dict[str, Any] = {
        "ExecutionArn": execution_arn,
        "Input": json.dumps(child.input),
        "InputDetails": {"Included": True},
        "Name": child.name,
        "RedriveCount": 0,
        "RedriveStatus": "REDRIVABLE_BY_MAP_RUN" if redrivable else "NOT_REDRIVABLE",
        "RedriveStatusReason": (
            "Execution is redrivable by the map run"
            if redrivable
            else f"Execution is {child.status} and cannot be redriven"
        ),
        "StartDate": _iso(child.start),
        "StateMachineArn": state_machine_arn,
        "Status": child.status,
        "StopDate": _iso(child.stop),
    }
    if child.status == "SUCCEEDED":
        record["Output"] = json.dumps(child.output)
        record["OutputDetails"] = {"Included": True}
    else:
        record["Error"] = child.error or ""
        record["Cause"] = child.cause or ""
    return dict(sorted(record.items()))


def _transformed(child: ChildResult, record: dict[str, Any], transformation: str) -> list[Any]:
    if child.status != "SUCCEEDED" or transformation == "NONE":
        return [record]
    if transformation == "FLATTEN" and isinstance(child.output, list):
        return list(child.output)
    return [child.output]


def _result_writer_eval_body(self, env) -> None:
    """Evaluate the ResultWriter's Parameters against the state's input, as AWS does (moto uses the
    children's outputs, so `Prefix.$` could not refer to the input)."""
    outputs = env.stack.pop()
    env.stack.append(env.states.get_input())
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    env.stack.pop()
    env.stack.append(outputs)
    env.stack.append(parameters)
    self.resource_eval.eval_resource(env=env)


def _put_object(env, resource_runtime_part, state_credentials) -> None:
    """ResultWriter: manifest.json plus SUCCEEDED_n, FAILED_n and PENDING_n as AWS writes them."""
    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: the files are written from the full records instead
    s3 = writer_s3.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    record = env.map_run_record_pool_manager.get_all().pop()
    children: list[ChildResult] = getattr(record, _RESULTS, [])
    ext: MapExtension = getattr(record, "_landfall_extension", None) or MapExtension()
    output_type = ext.writer_config.get("OutputType", "JSON")
    transformation = ext.writer_config.get("Transformation", "NONE")
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{record.map_run_arn.split(':')[-1]}/"
    state_machine_arn = record.map_run_arn.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0]

    groups: dict[str, list[Any]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in children:
        group = {"SUCCEEDED": "SUCCEEDED", "PENDING": "PENDING"}.get(child.status, "FAILED")
        full = _result_record(child, record.map_run_arn, state_machine_arn)
        groups[group].extend(_transformed(child, full, transformation))

    files: dict[str, list[dict[str, Any]]] = {}
    for group, entries in groups.items():
        files[group] = []
        for number, body in enumerate(_split(entries, output_type)):
            key = f"{base}{group}_{number}.json"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[group].append({"Key": key, "Size": len(body)})
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": record.map_run_arn,
        "ResultFiles": {group: files[group] for group in ("FAILED", "PENDING", "SUCCEEDED")},
    }
    key = f"{base}manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
    env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})


def _split(entries: list[Any], output_type: str) -> list[bytes]:
    """Encode entries into files of at most MAX_RESULT_FILE_BYTES; no file when there is nothing."""
    files: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for entry in entries:
        encoded = json.dumps(entry).encode()
        if current and size + len(encoded) + 2 > MAX_RESULT_FILE_BYTES:
            files.append(_join(current, output_type))
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 2
    if current:
        files.append(_join(current, output_type))
    return files


def _join(encoded: list[bytes], output_type: str) -> bytes:
    if output_type == "JSONL":
        return b"\n".join(encoded) + b"\n"
    return b"[" + b",".join(encoded) + b"]"


# ------------------------------------------------------------------------------------------ install

_installed = False


def install() -> None:
    """Apply every patch once; idempotent."""
    global _installed
    verify_patch_points()
    if _installed:
        return
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)
    state_map_module.StateMap.from_state_props = _from_state_props
    distributed.DistributedIterationComponent._map_run = _map_run
    reader_s3.ResourceEvalS3._handle_list_objects_v2 = staticmethod(_list_objects_v2)
    writer_s3.ResourceEvalS3._handle_put_object = staticmethod(_put_object)
    result_writer_decl.ResultWriter._eval_body = _result_writer_eval_body
    retrier_decl.time = retry_clock
    retrier_decl.RetrierDecl._eval_body = _retrier_eval_body
    _installed = True
