"""What the library reads bytes from: a file, a spooled file, an S3 object read through ranged GETs."""

from __future__ import annotations

from typing import Protocol


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class SeekableReadable(Readable, Protocol):
    """For ZIP archives, which read their directory at the end first."""

    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...
    def seekable(self) -> bool: ...
