"""Run the real Lambda handlers for moto, without containers.

moto's `LambdaFunction._invoke_lambda` (which would start Docker) is replaced: each function gets its
own pool of worker processes (its "execution environments") that import the handler from the
function's folder once, with the function's environment and `AWS_ENDPOINT_URL` pointing at the local
endpoint, and call it once per invocation. An exception comes back as Lambda reports it: a payload
with errorType/errorMessage and the function-error flag. Faults can be injected per function
(throttles), as a load test would meet them.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import threading
import traceback
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core.exceptions import JsonRESTError

PATCH_POINTS = ((lambda_models.LambdaFunction, "_invoke_lambda"), (lambda_models.LambdaFunction, "function_name"))


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about one function."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str  # module.function
    environment: dict[str, str]
    memory_mb: int = 128
    timeout_s: int = 3
    workers: int = 1


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
    import time

    return time.monotonic()


_handler = None
_spec: dict[str, Any] = {}


def _worker_init(spec: dict[str, Any], log_path: str | None) -> None:
    """Runs once in each worker process: the function's cold start."""
    global _handler, _spec
    if log_path:  # the function's stdout/stderr (its CloudWatch log) go to a file
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
    os.environ.update(spec["environment"])
    module_name, function_name = spec["handler"].rsplit(".", 1)
    path = Path(spec["code_dir"]) / f"{module_name.replace('.', '/')}.py"
    module_spec = importlib.util.spec_from_file_location(f"landfall_function_{spec['logical_id']}", path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    _handler = getattr(module, function_name)
    _spec = spec


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


@dataclass
class LambdaRuntime:
    """The registry of local functions and their worker pools; installed into moto by `install()`."""

    endpoint_url: str
    region: str
    account_id: str
    log_dir: Path | None = None
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    invocations: dict[str, int] = field(default_factory=dict)
    _pools: dict[str, ProcessPoolExecutor] = field(default_factory=dict)
    _throttles: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, spec: FunctionSpec) -> None:
        self.functions[spec.name] = spec

    def throttle(self, function_name: str, times: int) -> None:
        """The next `times` invocations of the function fail with TooManyRequestsException (429)."""
        with self._lock:
            self._throttles[function_name] = times

    def _pool(self, spec: FunctionSpec) -> ProcessPoolExecutor:
        with self._lock:
            pool = self._pools.get(spec.name)
            if pool is None:
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
                    "handler": spec.handler,
                    "environment": environment,
                    "memory_mb": spec.memory_mb,
                    "timeout_s": spec.timeout_s,
                }
                log_path = str(self.log_dir / f"{spec.name}.log") if self.log_dir else None
                pool = ProcessPoolExecutor(
                    max_workers=spec.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_init,
                    initargs=(worker_spec, log_path),
                )
                self._pools[spec.name] = pool
            return pool

    def invoke(self, function_name: str, event: Any) -> tuple[str, bool]:
        spec = self.functions.get(function_name)
        if spec is None:
            raise JsonRESTError("ResourceNotFoundException", f"Function not found: {function_name}")
        with self._lock:
            self.invocations[function_name] = self.invocations.get(function_name, 0) + 1
            if self._throttles.get(function_name, 0) > 0:
                self._throttles[function_name] -= 1
                error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
                error.code = 429
                raise error
        return self._pool(spec).submit(_invoke_in_worker, event).result()

    def install(self) -> None:
        runtime = self

        def _invoke_lambda(function: lambda_models.LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            payload, errored = runtime.invoke(function.function_name, event if event is not None else {})
            return payload, errored, ""

        lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()
