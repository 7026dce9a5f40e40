"""Running a Distributed Map's children as AWS does, within AWS's limits.

Children run MaxConcurrency at a time (256 at most here), each an iteration of the item processor on a
daemon thread. Failed and timed-out children count against ToleratedFailureCount/Percentage; past the
threshold no more start (their items are PENDING) and the state fails with
States.ExceedToleratedFailureThreshold, after the ResultWriter has written its files. A child's input
over 256 KiB fails it with States.DataLimitExceeded (moto itself checks each state's output). An EXPRESS
child stops at 5 minutes (`limits.express_seconds`, which a test may scale down), the waits of its
retries included: the engine records each backoff instead of sleeping it (`retry_clock`), and still
counts it. A skipped wait still lets happen what it waits for: a retry of a throttled Lambda invocation
waits until the function has a slot for it (at most the backoff), as on AWS the backoff gives a slot
time to free.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from botocore.exceptions import ClientError
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
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.quotas import is_within_size_quota

from landfall_emulator.map_reading import EXTENSION, MapExtension, cut_batches, select_items

RESULTS = "_landfall_results"  # the attribute a map run record carries its children in, for the ResultWriter


@dataclass
class EngineLimits:
    express_seconds: float = 300.0  # an EXPRESS execution's longest life, retries and waits included


limits = EngineLimits()


class RetryClock:
    """Stands in for `time` in moto's retrier: records every backoff, sleeps only when asked to.

    A wait it skips still counts against the child it happened in (an EXPRESS child's 5 minutes).
    The wait of a throttled Lambda invocation's retry lasts until the function has a slot for it
    (`wait_for_slot`, the local Lambda's), never longer than the backoff itself."""

    def __init__(self) -> None:
        self.real_sleeps = True
        self.requested: list[float] = []
        self.wait_for_slot: Callable[[str, float], bool] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def bind(self, child: ChildResult | None, throttled: str | None = None) -> None:
        """The child whose retries this thread runs (None: none), and the function whose throttle it retries."""
        self._local.child = child
        self._local.throttled = throttled

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.requested.append(seconds)
        if self.real_sleeps:
            time.sleep(seconds)
            return
        throttled = getattr(self._local, "throttled", None)
        waited = self._wait_for_slot(throttled, seconds) if throttled else 0.0
        child = getattr(self._local, "child", None)
        if child is not None:
            child.waited += seconds - waited  # what it waited for real is in its age already

    def _wait_for_slot(self, function_name: str, seconds: float) -> float:
        """Seconds spent waiting for the throttled function's slot."""
        if self.wait_for_slot is None:
            return 0.0
        started = time.monotonic()
        self.wait_for_slot(function_name, seconds)
        return min(time.monotonic() - started, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


retry_clock = RetryClock()

_original_retrier_eval = retrier_decl.RetrierDecl._eval_body
_CHILD = "_landfall_child"  # the child a frame (an Environment) runs, set where the child starts


def retrier_eval_body(self, env) -> None:
    """A retrier runs on moto's program thread: tell the clock whose waits these are, and which
    function's throttle (the error being retried is on the stack) they wait out."""
    retry_clock.bind(getattr(env, _CHILD, None), getattr(env.stack[-1], _THROTTLED, None) if env.stack else None)
    try:
        _original_retrier_eval(self, env)
    finally:
        retry_clock.bind(None)


_THROTTLED = "_landfall_throttled"  # on a Lambda throttle (the exception, then its error name): the function
_original_lambda_task = StateTaskServiceLambda._eval_service_task
_original_lambda_error = StateTaskServiceLambda._from_error


def lambda_task_eval(self, env, resource_runtime_part, normalised_parameters, state_credentials) -> None:
    """Invoke the task's function; a throttle takes the function's name to the retrier that waits it out
    (the invocation runs on a thread of its own, the retrier on the program's)."""
    try:
        _original_lambda_task(
            self,
            env=env,
            resource_runtime_part=resource_runtime_part,
            normalised_parameters=normalised_parameters,
            state_credentials=state_credentials,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "TooManyRequestsException":
            setattr(error, _THROTTLED, function_name(str(normalised_parameters.get("FunctionName", ""))))
        raise


def lambda_task_error(self, env, ex: Exception):
    failure = _original_lambda_error(self, env=env, ex=ex)
    throttled = getattr(ex, _THROTTLED, None)
    if throttled:
        setattr(failure.error_name, _THROTTLED, throttled)
    return failure


def function_name(name_or_arn: str) -> str:
    """A function's name from what a task's FunctionName may hold: a name, an ARN or a partial ARN,
    with or without a qualifier."""
    parts = name_or_arn.split(":")
    if name_or_arn.startswith("arn:"):
        return parts[6]
    return parts[2] if len(parts) >= 3 and parts[1] == "function" else parts[0]


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


def map_run(self, env, eval_input) -> None:
    """Run a Distributed Map's children as AWS does (see the module docstring)."""
    items: list[Any] = env.stack.pop()
    ext: MapExtension = getattr(self, EXTENSION, None) or MapExtension()
    record = eval_input.map_run_record
    context = env.states.context_object.context_object_data
    try:
        cut = cut_batches(select_items(env, eval_input, items), ext.item_batcher, env.states.get_input(), context)
    except ValueError as error:
        raise _failure(env, StatesErrorNameType.StatesRuntime, str(error)) from None
    children = [ChildResult(i, child_input, n, express=ext.express) for i, (child_input, n) in enumerate(cut)]
    setattr(record, RESULTS, children)
    setattr(record, EXTENSION, ext)
    record.item_counter.total.count(sum(child.items for child in children))
    record.execution_counter.total.count(len(children))
    exceeded = _run_children(self._get_iteration_program(), env, eval_input, children, ext)
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


_MOST_THREADS = 256  # children running at once here, whatever the map's MaxConcurrency (AWS's: up to 10,000)


def _run_children(program, env, eval_input, children: list[ChildResult], ext: MapExtension) -> bool:
    """Run the children MaxConcurrency at a time; True if they failed past the tolerated threshold
    (then the ones not started are left PENDING)."""
    record = eval_input.map_run_record
    concurrency = min(eval_input.max_concurrency or 10_000, _MOST_THREADS)
    total_items = sum(child.items for child in children)
    waiting = list(reversed(children))
    failed_items = 0
    exceeded = False
    running: dict[Future, ChildResult] = {}
    while waiting or running:
        while waiting and not exceeded and len(running) < concurrency:
            child = waiting.pop()
            _start_child(child, record)
            running[_in_a_thread(_run_child, env, program, child, record)] = child
        if not running:
            break
        ended = _wait_for_some(running, record, express=ext.express)
        failed_items += sum(child.items for child in ended if child.status in ("FAILED", "TIMED_OUT"))
        exceeded = exceeded or _threshold_exceeded(ext, eval_input, failed_items, total_items)
    return exceeded


def _in_a_thread(run: Callable[..., None], *args: Any) -> Future[None]:
    """`run(*args)` on a daemon thread of its own, as moto runs an execution: a child blocked in an
    invocation when the emulator stops must not keep the process alive (a ThreadPoolExecutor's workers
    are joined at the interpreter's exit, however long they wait). A timed-out EXPRESS child's thread
    ends with its task, unwaited for."""
    future: Future[None] = Future()

    def target() -> None:
        try:
            run(*args)
            future.set_result(None)
        except BaseException as error:  # given to the map's thread, which raises it (an engine fault)
            future.set_exception(error)

    threading.Thread(target=target, daemon=True, name="map-child").start()
    return future


def _wait_for_some(running: dict[Future, ChildResult], record, express: bool) -> list[ChildResult]:
    """The children that ended (or, EXPRESS, passed their limit) while waiting."""
    done, _ = wait(running, timeout=0.1 if express else None, return_when=FIRST_COMPLETED)
    ended = []
    for future in done:
        future.result()  # raises what escaped the child's runner: an engine fault
        ended.append(running.pop(future))
    return ended + (_stop_expired(running, record) if express else [])


def _failure(env, error_type: StatesErrorNameType, cause: str) -> FailureEventException:
    error_name = StatesErrorName(typ=error_type)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.MapRunFailed,
            event_details=cast(
                EventDetails,
                {"mapRunFailedEventDetails": MapRunFailedEventDetails(error=error_name.error_name, cause=cause)},
            ),
        )
    )
