"""The reducer's settings, parsed from its environment once per cold start (`core.settings`)."""

from __future__ import annotations

from pydantic import Field

from landfall.jobs.settings import JobSettings


class ReducerSettings(JobSettings):
    memory_mb: int = Field(default=0, ge=0, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # set by the Lambda runtime
    stack_name: str = Field(default="STACK", alias="STACK_NAME")
    database: str = Field(default="", alias="DATABASE")  # the curated table's; empty: the run commits nothing
    local_emulator: bool = Field(default=False, alias="LANDFALL_LOCAL_EMULATOR")  # set by the local emulator

    @property
    def redrive_with(self) -> str:
        """How the report's `landfall` commands reach this deployment."""
        return "--local" if self.local_emulator else f"--stack {self.stack_name}"
