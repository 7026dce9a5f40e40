"""Run the real Lambda handlers for moto, without containers, within Lambda's limits.

moto's `LambdaFunction._invoke_lambda` (which would start Docker) is replaced: each function gets up
to `workers` execution environments, each a worker process that imports the handler from the
function's folder once, with its layers' folders first on the path (where Lambda has /opt/python), the
function's environment and `AWS_ENDPOINT_URL` pointing at the local endpoint, and calls it once per
invocation. An exception comes back as Lambda reports it: a payload with errorType/errorMessage and
the function-error flag.

Lambda's limits that the pipeline could hit are enforced as Lambda enforces them:
- the function's timeout: the environment is stopped and the invocation fails with Sandbox.Timedout.
  As on Lambda it counts the invocation, not the environment's start (Lambda's init phase is apart):
  starting a process and importing a handler on a busy machine is no part of the function's time;
- 6 MB of response (Function.ResponseSizeTooLarge) and of request (RequestTooLargeException);
- reserved concurrency: invocations beyond it are throttled (TooManyRequestsException, 429).
More invocations than environments (but within the reserved concurrency) wait for one to be free, as
on a machine with fewer cores than Lambda would give. Throttles can also be injected per function.

The engine does not sleep a retry's backoff; a throttled retry waits in `wait_for_slot` instead, until
the function has a slot for it (or the backoff has passed), so the throttles AWS's backoff rides out
are ridden out here too, however slow the machine.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import time_machine
from moto.awslambda import models as lambda_models
from moto.core.exceptions import JsonRESTError

MAX_PAYLOAD_BYTES = 6_291_556  # a synchronous invocation's response, as Lambda counts it
MAX_REQUEST_BYTES = 6_291_456


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about one function."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str  # module.function
    environment: dict[str, str]
    memory_mb: int = 128
    timeout_s: float = 3
    workers: int = 1
    reserved_concurrency: int | None = None  # None: the account's unreserved pool
    layer_dirs: tuple[Path, ...] = ()  # the folders of its layers (ContentUri), in the order the function names them
    clock_ahead: timedelta = timedelta(0)  # how far ahead of the machine's its environments' clock runs (tests)


class LambdaContext:
    """The attributes of the context object the Lambda runtime passes to a handler."""

    def __init__(self, spec: dict[str, Any], timeout_s: int) -> None:
        self.function_name = spec["name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = spec["memory_mb"]
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec['name']}"
        self.log_stream_name = "local"
        self._deadline = _monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - _monotonic()) * 1000))


def _monotonic() -> float:
    return time.monotonic()


_handler: Any = None  # the function's handler, imported once in each worker process
_spec: dict[str, Any] = {}


def _worker_init(spec: dict[str, Any], log_path: str | None) -> None:
    """Runs once in each worker process: the function's cold start. Ctrl-C in the terminal is for the
    process that started the workers (it stops them); a worker whose parent is gone stops by itself."""
    global _handler, _spec
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C pending since the process started is dropped
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    if log_path:  # the function's stdout/stderr (its CloudWatch log) go to a file
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
    os.environ.update(spec["environment"])
    if spec["clock_ahead_s"]:  # every clock the handler reads (time, datetime) runs that far ahead, and ticks
        time_machine.travel(timedelta(seconds=spec["clock_ahead_s"]), tick=True).start()
    sys.path[:0] = reversed(spec["layer_dirs"])  # as Lambda's /opt: a later layer's files over an earlier's
    module_name, function_name = spec["handler"].rsplit(".", 1)
    path = Path(spec["code_dir"]) / f"{module_name.replace('.', '/')}.py"
    module_spec = importlib.util.spec_from_file_location(f"landfall_function_{spec['logical_id']}", path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    _handler = getattr(module, function_name)
    _spec = spec


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _invoke_in_worker(event: Any) -> tuple[str, bool]:
    context = LambdaContext(_spec, _spec["timeout_s"])
    try:
        result = _handler(event, context)
        return json.dumps(result), False
    except Exception as error:  # reported to the caller exactly as Lambda reports an unhandled error
        return json.dumps(
            {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_exception(error)[-5:],
            }
        ), True


def _error(message: str, error_type: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type})


def _serve(connection: Connection, spec: dict[str, Any], log_path: str | None) -> None:
    """A worker process: the cold start, then one invocation per event received, until told to stop.
    A cold start that raises answers the invocation that caused it, as Lambda does, and ends."""
    try:
        _worker_init(spec, log_path)
        failed = None
    except Exception as error:
        traceback.print_exc()  # into the function's log
        failed = json.dumps(
            {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_exception(error)[-5:],
            }
        )
    connection.send(_READY)  # the cold start is over: the invocation's clock starts now
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        if event == _STOP:  # (unpickled: an equal string, not the same one) as Lambda ends an environment,
            # the threads the handler left are not waited for
            with contextlib.suppress(Exception):  # an output gone (a closed pipe) must not keep it alive
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(0)
        payload, errored = (failed, True) if failed else _invoke_in_worker(event)
        connection.send((payload, errored, failed is None))  # the last: the environment stays warm
        if failed:
            return


_STOP = "landfall-local-stop"
_READY = "landfall-local-ready"
# The most an environment's start may take here (spawn, imports) before it counts as a runtime that
# exited: a machine's load, far beyond any cold start Landfall's functions make
START_LIMIT_S = 120.0


class WorkerExited(Exception):
    """The environment's process ended during an invocation (killed, out of memory, a failed cold start)."""


class _Environment:
    """One execution environment: a worker process that keeps the function imported while warm. A bare
    process and a pipe: killing it at any moment leaves nothing half-closed behind."""

    def __init__(self, worker_spec: dict[str, Any], log_path: str | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, theirs = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(theirs, worker_spec, log_path), daemon=True, name=f"lambda-{worker_spec['name']}"
        )
        # The worker starts with Ctrl-C blocked (a thread's signal mask is inherited through fork and exec)
        # until its cold start ignores it: a Ctrl-C while it is still importing would print a traceback.
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        theirs.close()
        self.warm = True  # False once its cold start failed: the next invocation gets a new environment
        self._started = False

    def _wait_started(self) -> None:
        """Until the cold start is over (once): the invocation's timeout counts from then."""
        if self._started:
            return
        if not self._connection.poll(START_LIMIT_S) or self._connection.recv() != _READY:
            raise WorkerExited(f"the environment did not start within {START_LIMIT_S:.0f} s")
        self._started = True

    def invoke(self, event: Any, timeout_s: float) -> tuple[str, bool]:
        """The handler's answer; TimeoutError past `timeout_s`, WorkerExited if the process ended."""
        try:
            self._wait_started()
            self._connection.send(event)
            answered = self._connection.poll(timeout_s)
            if answered:
                payload, errored, self.warm = self._connection.recv()
        except (EOFError, OSError) as error:  # OSError: the pipe's other end was killed mid-send
            raise WorkerExited from error
        if not answered:
            raise TimeoutError  # (an OSError: raised here, not confused with the pipe's own)
        return payload, errored

    def stop(self, kill: bool = False) -> None:
        if kill:  # a timed-out invocation, or the runtime's end: Lambda stops the environment whatever it does
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self._connection.send(_STOP)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@dataclass
class _Function:
    spec: FunctionSpec
    worker_spec: dict[str, Any]
    log_path: str | None
    idle: queue.Queue[_Environment | None] = field(default_factory=queue.Queue)  # None: the runtime stopped
    started: int = 0  # environments created and not stopped
    in_flight: int = 0
    environments: set[_Environment] = field(default_factory=set)
    waiters: deque[threading.Event] = field(default_factory=deque)  # throttled retries waiting for a slot, in order


@dataclass
class LambdaRuntime:
    """The registry of local functions and their environments; installed into moto by `install()`."""

    endpoint_url: str
    region: str
    account_id: str
    log_dir: Path | None = None
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    invocations: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)  # invocations refused over reserved concurrency
    seconds: dict[str, list[float]] = field(default_factory=dict)  # each invocation's wall time, by function
    _running: dict[str, _Function] = field(default_factory=dict)
    _throttles: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def register(self, spec: FunctionSpec) -> None:
        self.functions[spec.name] = spec

    def reconfigure(
        self, function_name: str, environment: dict[str, str], clock_ahead: timedelta | None = None
    ) -> None:
        """As UpdateFunctionConfiguration on an idle function: the invocations that follow run with the
        changed variables, each in a new execution environment (the warm ones are stopped). `clock_ahead`
        has no AWS equivalent: the function then runs as if invoked that much later (what waits for days)."""
        with self._lock:
            spec = self.functions[function_name]
            ahead = spec.clock_ahead if clock_ahead is None else clock_ahead
            changed = replace(spec, environment={**spec.environment, **environment}, clock_ahead=ahead)
            self.functions[function_name] = changed
            running = self._running.pop(function_name, None)
        while running is not None and not running.idle.empty():
            warm = running.idle.get_nowait()
            if warm is not None:
                warm.stop()

    def throttle(self, function_name: str, times: int) -> None:
        """The next `times` invocations of the function fail with TooManyRequestsException (429)."""
        with self._lock:
            self._throttles[function_name] = times

    def wait_for_slot(self, function_name: str, timeout: float) -> bool:
        """Wait (at most `timeout` seconds: the backoff AWS would sleep) until the function has a
        concurrency slot for this caller; True if one came. Callers are served in order, one per slot
        freed, so that no retry is spent on a slot another waiter is taking."""
        with self._lock:
            spec, running = self.functions.get(function_name), self._running.get(function_name)
            if spec is None or running is None or spec.reserved_concurrency is None:
                return True  # no reservation (an injected throttle): no slot to wait for
            if not running.waiters and running.in_flight < spec.reserved_concurrency:
                return True
            turn = threading.Event()
            running.waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn not in running.waiters:
                return True  # its turn came as the time ran out
            running.waiters.remove(turn)
        return False

    def in_flight(self, function_name: str) -> int:
        """Invocations of the function running or waiting for an environment."""
        with self._lock:
            running = self._running.get(function_name)
            return running.in_flight if running else 0

    def peak_rss_mb(self, function_name: str) -> float:
        """The highest peak resident memory of the function's live environments (as Lambda's Max Memory Used)."""
        with self._lock:
            running = self._running.get(function_name)
            pids = [env.process.pid for env in running.environments] if running else []
        peaks = [0.0]
        for pid in pids:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                peaks += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
        return max(peaks)

    def environments(self, function_name: str) -> int:
        """Execution environments the function has (warm or busy)."""
        with self._lock:
            running = self._running.get(function_name)
            return len(running.environments) if running else 0

    def _function(self, spec: FunctionSpec) -> _Function:
        running = self._running.get(spec.name)
        if running is None:
            environment = {
                **spec.environment,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
            worker_spec = {
                "logical_id": spec.logical_id,
                "name": spec.name,
                "arn": f"arn:aws:lambda:{self.region}:{self.account_id}:function:{spec.name}",
                "code_dir": str(spec.code_dir),
                "layer_dirs": [str(folder) for folder in spec.layer_dirs],
                "handler": spec.handler,
                "environment": environment,
                "memory_mb": spec.memory_mb,
                "timeout_s": spec.timeout_s,
                "clock_ahead_s": spec.clock_ahead.total_seconds(),
            }
            log_path = str(self.log_dir / f"{spec.name}.log") if self.log_dir else None
            running = self._running[spec.name] = _Function(spec, worker_spec, log_path)
        return running

    def _admit(self, name: str, event: Any) -> _Function:
        spec = self.functions.get(name)
        if spec is None:
            raise JsonRESTError("ResourceNotFoundException", f"Function not found: {name}")
        if len(json.dumps(event)) > MAX_REQUEST_BYTES:
            error = JsonRESTError(
                "RequestTooLargeException", f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the Invoke"
            )
            error.code = 413
            raise error
        with self._lock:
            if self._closed:
                raise JsonRESTError("ServiceException", "the local Lambda runtime has stopped")
            self.invocations[name] = self.invocations.get(name, 0) + 1
            function = self._function(spec)
            injected = self._throttles.get(name, 0) > 0
            over = spec.reserved_concurrency is not None and function.in_flight >= spec.reserved_concurrency
            if injected or over:
                self._throttles[name] = max(0, self._throttles.get(name, 0) - 1)
                self.throttled[name] = self.throttled.get(name, 0) + over
                error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
                error.code = 429
                raise error
            function.in_flight += 1
            fresh = function.idle.empty() and function.started < spec.workers
            if fresh:
                function.started += 1
        try:
            if fresh and not self._start_environment(function):
                raise JsonRESTError("ServiceException", "the local Lambda runtime has stopped")
        except BaseException:
            with self._lock:
                function.in_flight -= 1
            raise
        return function

    def prewarm(self, function_name: str) -> None:
        """Start an environment of the function now, if it has none, for an invocation known to be coming:
        its cold start runs beside what the caller does meanwhile (the emulator's own start)."""
        with self._lock:
            spec = self.functions[function_name]
            function = self._function(spec)
            if self._closed or not function.idle.empty() or function.started >= spec.workers:
                return
            function.started += 1
        self._start_environment(function)

    def _start_environment(self, function: _Function) -> bool:
        """A new environment, idle; False if the runtime stopped while it started (it is stopped too)."""
        try:
            environment = _Environment(function.worker_spec, function.log_path)
        except BaseException:  # no process (e.g. spawn's pipe refused): the slot counted for it is free again
            with self._lock:
                function.started -= 1
            raise
        with self._lock:
            closed = self._closed
            if not closed:
                function.environments.add(environment)
        if closed:  # no process may outlive the runtime
            environment.stop(kill=True)
            return False
        function.idle.put(environment)
        return True

    def invoke(self, function_name: str, event: Any) -> tuple[str, bool]:
        function = self._admit(function_name, event)
        started = time.monotonic()
        try:
            payload, errored = self._run(function, event)
        finally:
            with self._lock:
                function.in_flight -= 1
                self.seconds.setdefault(function_name, []).append(time.monotonic() - started)
                if function.waiters:  # the slot goes to the retry that has waited longest
                    function.waiters.popleft().set()
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            message = f"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
            return _error(message, "Function.ResponseSizeTooLarge"), True
        return payload, errored

    def _run(self, function: _Function, event: Any) -> tuple[str, bool]:
        environment = function.idle.get()  # waits for a free environment, or the runtime's end
        if environment is None:
            function.idle.put(None)  # for the next one waiting
            raise JsonRESTError("ServiceException", "the local Lambda runtime has stopped")
        timeout_s = function.spec.timeout_s
        try:
            result = environment.invoke(event, timeout_s)
        except TimeoutError:  # Lambda stops the environment; the next invocation starts a new one (cold)
            self._retire(function, environment)
            return _error(
                f"RequestId: {uuid.uuid4()} Error: Task timed out after {timeout_s:.2f} seconds", "Sandbox.Timedout"
            ), True
        except WorkerExited:  # the worker died (e.g. out of memory)
            self._retire(function, environment)
            return _error(f"RequestId: {uuid.uuid4()} Error: Runtime exited", "Runtime.ExitError"), True
        except BaseException:
            function.idle.put(environment)
            raise
        if not environment.warm:  # its cold start failed: the next invocation starts a new one
            self._retire(function, environment)
        else:
            function.idle.put(environment)
        return result

    def _retire(self, function: _Function, environment: _Environment) -> None:
        with self._lock:
            function.environments.discard(environment)
            function.started -= 1
        environment.stop(kill=True)

    def activate(self) -> None:
        """Make this the runtime moto's Lambda invokes (through `invoke_lambda`, see moto_compat)."""
        global _active
        _active = self

    def shutdown(self) -> None:
        """Stop every environment, and end every invocation waiting for one or for a slot: none of the
        emulator's threads may wait for a runtime that is gone (Ctrl-C ends a run at any moment)."""
        with self._lock:
            self._closed = True
            functions = list(self._running.values())
            environments = [env for function in functions for env in function.environments]
            waiters = [turn for function in functions for turn in function.waiters]
            self._running.clear()
        for environment in environments:
            environment.process.kill()  # all at once; their ends are awaited below
        for function in functions:
            function.idle.put(None)
        for turn in waiters:
            turn.set()
        for environment in environments:
            environment.stop(kill=True)


_active: LambdaRuntime | None = None


def invoke_lambda(function: lambda_models.LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Stands in for moto's `LambdaFunction._invoke_lambda` (which would start a container)."""
    if _active is None:
        raise JsonRESTError("ServiceException", "no local Lambda runtime is running")
    payload, errored = _active.invoke(function.function_name, event if event is not None else {})
    return payload, errored, ""
