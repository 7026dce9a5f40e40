"""Each function's unzipped size with its layers, as `sam build` left them, beside Lambda's 250 MB.

Lambda counts a function's code and all its layers, unzipped, against 250 MB (262,144,000 bytes):
the figure that decides whether pyiceberg fits beside the reducer, and whether the processor's layer
stays small. The layers a function has come from the built template (Globals and its own).
"""

from __future__ import annotations

from pathlib import Path

from landfall_emulator.template import Stack, load_template

LAMBDA_UNZIPPED_BYTES = 262_144_000


def _bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def function_sizes(build: Path) -> dict[str, dict[str, int]]:
    """Per function: its code's bytes, its layers' bytes, and the total (the default Architecture's layers)."""
    stack = Stack(load_template(build / "template.yaml"))
    sizes = {}
    for name in stack.of_type("AWS::Serverless::Function"):
        code, layered = _bytes(build / name), sum(_bytes(build / layer) for layer in stack.function_layers(name))
        sizes[name] = {"code": code, "layers": layered, "total": code + layered}
    return sizes


def rows(sizes: dict[str, dict[str, int]]) -> list[tuple[str, str, str]]:
    return [
        (
            f"unzipped: {name.removesuffix('Function')}",
            f"{size['total'] / 1e6:.0f} MB",
            f"{size['total'] / LAMBDA_UNZIPPED_BYTES:.0%} of Lambda's 250 MB (code {size['code'] / 1e6:.1f} MB)",
        )
        for name, size in sorted(sizes.items())
    ]
