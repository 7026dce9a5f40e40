"""What deploying needs, checked before anything is built: `make deploy` and `make check-deploy`.

    python -m landfall_cli.prerequisites   # prints the first thing missing in one line, exit 2; else nothing

The AWS CLI (the README's one-time steps use it), the SAM CLI pinned in the project's requirements.lock,
a region and credentials AWS accepts (one STS call, which needs no permission).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from landfall_cli.aws_errors import SET_REGION, session, setup_problem
from landfall_cli.options import NotInProject, project_dir

AWS_CLI_INSTALL = "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"


def pinned_sam_version(lock: Path | None = None) -> str:
    text = (lock or project_dir() / "requirements.lock").read_text()
    return re.search(r"^aws-sam-cli==(\S+)$", text, re.MULTILINE).group(1)  # type: ignore[union-attr]


def _sam_version() -> str | None:
    """The version of the SAM CLI beside this Python (the venv's), None if it is not there or fails."""
    sam = Path(sys.executable).parent / "sam"
    try:
        done = subprocess.run([sam, "--version"], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+\.\d+\.\d+)", done.stdout)
    return found.group(1) if found else None


def problem(
    which: Callable[[str], str | None] = shutil.which, sam_version: Callable[[], str | None] = _sam_version
) -> str | None:
    """The first prerequisite of a deployment that is missing, in one line; None when all are there."""
    if which("aws") is None:
        return f"the AWS CLI is missing: install version 2 ({AWS_CLI_INSTALL})"
    pinned, found = pinned_sam_version(), sam_version()
    if found != pinned:
        state = f"is {found}" if found else "does not run"
        return f"the SAM CLI in .venv {state}, not the pinned {pinned}: run `make clean venv`"
    aws = session()
    if aws.region_name is None:
        return f"no AWS region: {SET_REGION}"
    try:
        aws.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        return setup_problem(error) or f"AWS refused the credentials: {error}"
    return None


def main() -> int:
    try:
        found = problem()
    except NotInProject as error:
        found = str(error)
    if found is None:
        return 0
    sys.stderr.write(f"make deploy: {found}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
