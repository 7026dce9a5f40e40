"""What an object's bytes turned out to be: the words `compression` and `framing` decide on and an
object's summary reports. A module of its own, without their decoders: the reducer reads the summaries
and would otherwise import ISA-L and cramjam at every cold start for two names."""

from __future__ import annotations

from typing import Literal

Compression = Literal["none", "gzip", "zip", "snappy", "snappy-java", "hadoop-snappy"]
Framing = Literal["newline", "concatenated"]  # lines, or JSON values written back to back (`}{`)
