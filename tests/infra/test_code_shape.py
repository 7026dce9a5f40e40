"""The code stays easy to change: no function in the library or the CLI longer than a screen.

(Complexity is held to 15 by ruff's C90 in `make lint`; this is the length that ruff does not check.)
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import REPO_ROOT

MAX_FUNCTION_LINES = 40


def functions(root: Path):
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path.relative_to(REPO_ROOT), node


def test_no_function_is_longer_than_a_screen():
    long = [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for root in ("layers/common/landfall", "cli/landfall_cli", "emulator/landfall_emulator", "functions")
        for path, node in functions(REPO_ROOT / root)
        if (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_every_test_module_that_needs_the_emulator_is_marked_so():
    """`make test-fast` leaves out the tests marked `emulator`: each module of these folders declares it
    (a `pytestmark` in a conftest.py applies to nothing)."""
    unmarked = [
        path.name
        for folder in ("tests/integration", "tests/artifact")
        for path in sorted((REPO_ROOT / folder).glob("test_*.py"))
        if "pytest.mark.emulator"
        not in next((line for line in path.read_text().splitlines() if line.startswith("pytestmark")), "")
    ]
    assert unmarked == []
