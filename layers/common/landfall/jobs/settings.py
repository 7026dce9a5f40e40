"""Which job a function runs (LANDFALL_JOB), the setting the processor and the reducer share."""

from __future__ import annotations

from pydantic import Field

from landfall.core.settings import Settings
from landfall.jobs import DEFAULT_JOB


class JobSettings(Settings):
    job: str = Field(default=DEFAULT_JOB, alias="LANDFALL_JOB")
