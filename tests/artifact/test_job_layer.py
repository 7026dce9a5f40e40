"""The JobLayer as `sam build` leaves it for the repository (`tests/adoption/test_own_job.py` builds it
with a job): the folder's README alone, and every function with both its layers within Lambda's 250 MB
unzipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from landfall_cli.invoke import build
from landfall_emulator.template import load_template
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.emulator

LAMBDA_UNZIPPED_BYTES = 250 * 1024 * 1024  # a function's code and all its layers


@pytest.fixture(scope="module")
def built() -> Path:
    """`make test` builds first; a test run alone builds here."""
    return build(REPO_ROOT)


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("layer", ["JobLayer", "JobLayerArm64"])
def test_without_a_job_the_job_layer_holds_its_readme_alone(built, layer):
    assert [path.relative_to(built / layer).as_posix() for path in (built / layer).rglob("*") if path.is_file()] == [
        "python/README.md"
    ]


@pytest.mark.parametrize("architecture", ["", "Arm64"])
def test_each_function_with_its_layers_fits_lambdas_unzipped_limit(built, architecture):
    resources = load_template(built / "template.yaml")["Resources"]
    layers = _size(built / f"CommonLayer{architecture}") + _size(built / f"JobLayer{architecture}")
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert _size(built / name) + layers <= LAMBDA_UNZIPPED_BYTES, name
