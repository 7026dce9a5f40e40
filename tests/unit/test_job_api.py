"""What a job author imports: `landfall.jobs` alone, with the old paths kept one version, warning."""

import ast
import importlib
import sys
from pathlib import Path

import pytest

import landfall.jobs
from landfall.jobs import DEFAULT_JOB, load_job
from landfall.jobs.settings import JobSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("job", ["examples/orders_job.py", "layers/common/landfall/jobs/events.py"])
def test_a_job_needs_nothing_but_the_job_api(job):
    imported = {
        node.module: {alias.name for alias in node.names}
        for node in ast.walk(ast.parse((ROOT / job).read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("landfall")
    }
    assert list(imported) == ["landfall.jobs"]
    assert imported["landfall.jobs"] <= set(landfall.jobs.__all__)


@pytest.mark.parametrize(
    ("shim", "names"), [("landfall.models", {"AggregateTable"}), ("landfall.partitioning", {"HOURLY", "DAILY"})]
)
def test_the_old_import_paths_still_work_and_say_where_to_go(shim, names):
    sys.modules.pop(shim, None)
    with pytest.warns(DeprecationWarning, match="landfall.jobs"):
        module = importlib.import_module(shim)
    assert {name: getattr(module, name) for name in names} == {name: getattr(landfall.jobs, name) for name in names}


def test_one_default_job_everywhere():
    template = (ROOT / "template.yaml").read_text()
    assert f"Default: {DEFAULT_JOB}\n" in template
    assert JobSettings().job == DEFAULT_JOB
    assert type(load_job()).__module__ == "landfall.jobs.events"
