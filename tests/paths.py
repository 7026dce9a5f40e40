"""Where the tests find the project's files: the repository they are in, not where a package is installed."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"  # what the emulator runs, as `make demo` does
EVENTS = REPO_ROOT / "events"  # the sample events `sam local invoke` takes
