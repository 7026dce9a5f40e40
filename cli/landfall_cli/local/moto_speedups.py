"""Take work off moto's server that has nothing to do with the request it is serving.

moto's server decides which backend a request is for by listing its own package directory
(`os.listdir` and an `isdir` per module, ~175 of them) on every request, twice; the directory does
not change while the process runs, so `install()` lists it once. That is about a third of the CPU
moto spends on a small S3 GET or PUT, paid under the emulator's GIL beside the functions it runs.

`python -m landfall_cli.local.moto_speedups -H 127.0.0.1 -p PORT` runs moto's own server with this
applied (what `make bench` uses for its stand-in S3).
"""

from __future__ import annotations

import functools

from moto import backends
from moto import server as moto_server

from landfall_cli.local.asl_extensions import PatchPointMoved, verify_patch_points

_original = backends.list_of_moto_modules


@functools.cache
def _moto_modules() -> tuple[str, ...]:
    return tuple(_original())


def install() -> None:
    """Idempotent; fails loudly if moto moved what it replaces (moto is pinned exactly)."""
    verify_patch_points()
    if not callable(getattr(backends, "list_of_moto_modules", None)):
        raise PatchPointMoved("moto internals moved: backends.list_of_moto_modules")
    backends.list_of_moto_modules = _moto_modules


if __name__ == "__main__":
    install()
    moto_server.main()
