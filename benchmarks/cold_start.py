"""Each built function's cold start: importing its handler with its layers as the runtime does, in a
fresh interpreter that sees only the function's folder, its layers and the runtime's own modules (boto3,
botocore, ... linked by `landfall invoke`'s runtime folder), with the function's environment from the
template. Every child of a map run may start cold, so this is paid per batch at worst. Lambda's Init
Duration adds the runtime's own bootstrap, which is the same for every function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import TEMPLATE_PATH
from benchmarks.speed import Timings, pin

FUNCTIONS = ("ManifestWriterFunction", "ProcessorFunction", "ReducerFunction", "CatalogFunction")

# -I -S: no site-packages of this environment, only what sys.path is given below
PROBE = """
import importlib.util, json, sys, time
function, runtime, *layers = sys.argv[1:]
sys.path[:0] = [function, *layers, runtime]
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", function + "/app.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({"ms": (time.perf_counter() - started) * 1000, "modules": len(sys.modules)}))
"""


def _stack():
    """The template's stack, with the stack-name custom resource answered as the catalog function answers
    it (the reducer's environment names the database it gives)."""
    from landfall.table.catalog import database_name
    from landfall_emulator.template import Stack, load_template

    stack = Stack(load_template(TEMPLATE_PATH))
    stack.custom_resources["CatalogName"] = ("catalog-name", {"Database": database_name(stack.name)})
    return stack


def layer_paths(build: Path, logical_id: str) -> list[str]:
    """The function's built layers' python/ folders, the last layer first (as Lambda merges them)."""
    return [str(build / layer / "python") for layer in reversed(_stack().function_layers(logical_id))]


def environment(logical_id: str, build: Path) -> dict[str, str]:
    """What Lambda gives the function: its variables from the template and the runtime's own."""
    stack = _stack()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **stack.function_environment(logical_id),
        "LAMBDA_TASK_ROOT": str(build / logical_id),
        "AWS_LAMBDA_FUNCTION_NAME": stack.physical_name(logical_id),
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        "_HANDLER": "app.lambda_handler",
    }


def import_ms(build: Path, logical_id: str, runtime: Path, core: int, env: dict[str, str]) -> tuple[float, int]:
    """Milliseconds to import the handler in a fresh interpreter pinned to `core`, and the modules loaded."""
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            PROBE,
            str(build / logical_id),
            str(runtime),
            *layer_paths(build, logical_id),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        preexec_fn=pin(core),
    )
    if done.returncode:
        raise RuntimeError(f"{logical_id} does not import:\n{done.stderr[-2000:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["ms"], measured["modules"]


def measure(build: Path, runtime: Path, rounds: int, core: int) -> dict[str, tuple[Timings, int]]:
    """Each function's import times over `rounds` interleaved rounds, and the modules it loads."""
    environments = {name: environment(name, build) for name in FUNCTIONS}
    measured: dict[str, tuple[Timings, int]] = {name: (Timings(), 0) for name in FUNCTIONS}
    for _ in range(rounds):
        for name in FUNCTIONS:
            ms, modules = import_ms(build, name, runtime, core, environments[name])
            measured[name][0].seconds.append(ms / 1000)
            measured[name] = (measured[name][0], modules)
    return measured
