"""`make` says in one line what is missing: Python 3.13 before the venv, and what a deployment needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from landfall_cli import prerequisites
from tests.paths import REPO_ROOT


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """No AWS configuration at all; the metadata service off (traffic stays on loopback)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def one_make_line(argv: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> str:
    done = subprocess.run(["make", "-s", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603, S607
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert output.count("\n") == 1 and "Traceback" not in output, output
    return output


@pytest.fixture
def aws_cli(tmp_path: Path) -> Path:
    """An `aws` on PATH (the check looks for it, never runs it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "aws").chmod(0o755)
    return bin_dir


@pytest.mark.skipif(not (REPO_ROOT / ".venv/.installed").exists(), reason="the checks run in the venv")
def test_make_deploy_names_the_first_missing_prerequisite_in_one_line(bare_env, aws_cli):
    assert "the AWS CLI is missing" in one_make_line(["check-deploy"], bare_env)
    with_cli = {**bare_env, "PATH": f"{aws_cli}:{bare_env['PATH']}"}
    assert "no AWS region: set AWS_REGION" in one_make_line(["deploy"], with_cli)  # before anything is built
    line = one_make_line(["check-deploy"], {**with_cli, "AWS_REGION": "eu-west-1"})
    assert "no AWS credentials" in line and "aws configure" in line


@pytest.mark.parametrize(("python", "says"), [("python3.99", "is missing"), ("/bin/sh", "is missing")])
def test_make_without_python_3_13_says_so_in_one_line_before_anything_starts(tmp_path, bare_env, python, says):
    checkout = tmp_path / "fresh"
    checkout.mkdir()
    for name in ("Makefile", "requirements.lock", "requirements-dev.in", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, checkout / name)
    line = one_make_line(["demo", f"PYTHON={python}"], bare_env, cwd=checkout)
    assert says in line and "Python 3.13 is needed" in line and "PYTHON=/path/to/python3.13" in line
    assert not (checkout / ".venv").exists()


def test_another_python_version_is_named(tmp_path, bare_env):
    other = shutil.which("python3.11") or shutil.which("python3.12")
    if other is None:
        pytest.skip("no other Python on this machine")
    checkout = tmp_path / "fresh"
    checkout.mkdir()
    shutil.copy(REPO_ROOT / "Makefile", checkout / "Makefile")
    assert "is Python 3.1" in one_make_line(["test", f"PYTHON={other}"], bare_env, cwd=checkout)


def test_the_checks_in_order(monkeypatch, tmp_path):
    for name, value in {
        "AWS_CONFIG_FILE": tmp_path / "none",
        "AWS_SHARED_CREDENTIALS_FILE": tmp_path / "none",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, str(value))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    pinned = prerequisites.pinned_sam_version()

    def check(**overrides):
        return prerequisites.problem(
            **{"which": lambda name: f"/usr/bin/{name}", "sam_version": lambda: pinned, **overrides}
        )

    assert "AWS CLI is missing" in check(which=lambda name: None)
    assert f"is 0.0.1, not the pinned {pinned}" in check(sam_version=lambda: "0.0.1")
    assert "does not run" in check(sam_version=lambda: None)
    assert check().startswith("no AWS region")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert check().startswith("no AWS credentials")
