"""`make bench`: speed and memory as ratios against a reference run in the same process."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository: its template, its build, its history
TEMPLATE_PATH = ROOT / "template.yaml"
