"""What a job author imports: `landfall.jobs` alone, with the old paths kept one version, warning; and
where a job of one's own goes: `jobs/`, the folder the template ships as the JobLayer."""

import ast
import importlib
import sys

import pytest

import landfall.jobs
from landfall.jobs import DEFAULT_JOB, load_job
from landfall.jobs.settings import JobSettings
from landfall_emulator.template import load_template
from tests.paths import REPO_ROOT, TEMPLATE_PATH


@pytest.mark.parametrize("job", ["examples/orders_job.py", "layers/common/landfall/jobs/events.py"])
def test_a_job_needs_nothing_but_the_job_api(job):
    imported = {
        node.module: {alias.name for alias in node.names}
        for node in ast.walk(ast.parse((REPO_ROOT / job).read_text()))
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
    template = (REPO_ROOT / "template.yaml").read_text()
    assert f"Default: {DEFAULT_JOB}\n" in template
    assert JobSettings().job == DEFAULT_JOB
    assert type(load_job()).__module__ == "landfall.jobs.events"


def test_the_job_api_is_what_a_job_author_imports():
    assert sorted(landfall.jobs.__all__) == [
        "AggregateTable",
        "AllowedValues",  # the quality rules a job declares (landfall.jobs.quality)
        "DAILY",
        "Drift",
        "DuplicateShare",
        "Freshness",
        "HOURLY",
        "Job",
        "NullShare",
        "Partitioning",
        "RecordJob",
        "RecordRejected",
        "RejectedShare",
        "RowCount",
        "Rule",
        "ValueRange",
    ]
    assert all(hasattr(landfall.jobs, name) for name in landfall.jobs.__all__)


def test_a_job_of_ones_own_ships_from_jobs_never_from_the_library_layer():
    """Every function has the JobLayer after the library's, for each architecture, built from `jobs/`;
    the library's layer holds the library alone."""
    template = load_template(TEMPLATE_PATH)
    layers = template["Globals"]["Function"]["Layers"]
    assert [branch["Fn::If"][1:] for branch in layers] == [
        [{"Ref": "CommonLayerArm64"}, {"Ref": "CommonLayer"}],
        [{"Ref": "JobLayerArm64"}, {"Ref": "JobLayer"}],
    ]
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    # 2 layers each, and the table stage's to those that write the Iceberg table; Lambda allows 5
    with_own = {name for name, function in functions.items() if "Layers" in function["Properties"]}
    writers = {"UpkeepPlanFunction", "CompactorFunction", "UpkeepFinishFunction"}
    assert with_own == {"ReducerFunction", "CatalogFunction", *writers}
    for name in with_own:
        (layer,) = functions[name]["Properties"]["Layers"]
        assert layer["Fn::If"][1:] == [{"Ref": "IcebergLayerArm64"}, {"Ref": "IcebergLayer"}]
    for layer, architecture in (("JobLayer", "x86_64"), ("JobLayerArm64", "arm64")):
        resource = template["Resources"][layer]
        assert resource["Properties"]["ContentUri"] == "jobs/"
        assert resource["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": architecture}
        assert f"build-{layer}:" in (REPO_ROOT / "jobs" / "Makefile").read_text()
    library = {path.name for path in (REPO_ROOT / "layers" / "common").iterdir()} - {"__pycache__"}
    assert library == {"Makefile", "requirements.txt", "landfall"}
