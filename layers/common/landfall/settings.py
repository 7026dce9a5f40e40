"""Settings of each function, parsed from environment variables once per cold start.

A missing or malformed variable fails the cold start with a message that names it, instead of a
KeyError deep inside a batch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from landfall.models import RunConfig


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


MAP_MAX_CONCURRENCY = 10_000  # what a Distributed Map's MaxConcurrency of 0 means


class ManifestWriterSettings(_Settings):
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN")
    pipeline_bucket: str = Field(alias="PIPELINE_BUCKET")
    key_prefix: str = Field(default="raw/", alias="KEY_PREFIX")
    key_suffix: str = Field(default="", alias="KEY_SUFFIX")
    max_concurrency: int = Field(default=100, ge=0, le=MAP_MAX_CONCURRENCY, alias="MAX_CONCURRENCY")
    # the processor's reserved concurrency across all runs (0: none reserved, no ceiling)
    processor_concurrency_limit: int = Field(default=0, ge=0, alias="PROCESSOR_CONCURRENCY_LIMIT")
    max_items_per_batch: int = Field(default=20, ge=1, le=1000, alias="MAX_ITEMS_PER_BATCH")
    max_batch_mib: int = Field(default=256, ge=1, le=10 * 1024, alias="MAX_BATCH_MIB")
    tolerated_failure_percentage: float = Field(default=5.0, ge=0, le=100, alias="TOLERATED_FAILURE_PERCENTAGE")
    rejected_warning_percentage: float = Field(default=5.0, ge=0, le=100, alias="REJECTED_WARNING_PERCENTAGE")

    def run_config(self) -> RunConfig:
        """A run's settings; its concurrency within the processor's limit, so that one run alone never
        throttles itself (overlapping runs share the limit and wait their turn)."""
        concurrency = self.max_concurrency or MAP_MAX_CONCURRENCY
        if self.processor_concurrency_limit:
            concurrency = min(concurrency, self.processor_concurrency_limit)
        return RunConfig(
            max_concurrency=concurrency,
            max_items_per_batch=self.max_items_per_batch,
            max_batch_bytes=self.max_batch_mib << 20,
            tolerated_failure_percentage=self.tolerated_failure_percentage,
            rejected_warning_percentage=self.rejected_warning_percentage,
        )


class JobSettings(_Settings):
    job: str = Field(default="landfall.jobs.events:EventsJob", alias="LANDFALL_JOB")


class ReducerSettings(JobSettings):
    memory_mb: int = Field(default=0, ge=0, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # set by the Lambda runtime
    stack_name: str = Field(default="STACK", alias="STACK_NAME")
    local_emulator: bool = Field(default=False, alias="LANDFALL_LOCAL_EMULATOR")  # set by the local emulator

    @property
    def redrive_with(self) -> str:
        """How the report's `landfall` commands reach this deployment."""
        return "--local" if self.local_emulator else f"--stack {self.stack_name}"


class ProcessorSettings(JobSettings):
    chunk_bytes: int = Field(default=512 << 10, ge=4096, alias="CHUNK_BYTES")
    max_line_bytes: int = Field(default=8 << 20, ge=1024, alias="MAX_LINE_BYTES")
    # objects up to this size are fetched concurrently, `fetch_concurrency` at a time
    small_object_bytes: int = Field(default=8 << 20, ge=0, alias="SMALL_OBJECT_BYTES")
    fetch_concurrency: int = Field(default=16, ge=1, le=256, alias="FETCH_CONCURRENCY")
    # object summaries beyond this size go to S3 and the batch output points to them
    inline_summary_bytes: int = Field(default=64 * 1024, ge=1024, le=200 * 1024, alias="INLINE_SUMMARY_BYTES")
    # curated rows the batch's objects hold in memory before spilling them to SPILL_DIR (Lambda's /tmp)
    buffer_mib: int = Field(default=16, ge=1, alias="CURATED_BUFFER_MIB")
    spill_dir: str | None = Field(default=None, alias="SPILL_DIR")
    memory_mb: int = Field(default=0, ge=0, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # set by the Lambda runtime
    # a large object's read-ahead and upload threads. Pinned to one core they cost nothing measurable
    # (`make bench`: 0.96-1.04x inline); on AWS they also overlap S3's latency with the decoding.
    large_object_threads: Literal["on", "off"] = Field(default="on", alias="LARGE_OBJECT_THREADS")

    def threaded(self, size: int) -> bool:
        """Whether an object of `size` bytes is inflated and uploaded on threads of its own."""
        return size > self.small_object_bytes and self.large_object_threads == "on"


def parse_settings[S: BaseModel](model: type[S], environ: Mapping[str, str]) -> S:
    """Build `model` from `environ`, naming every missing or invalid variable on failure."""
    try:
        return model.model_validate(dict(environ))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise SettingsError(f"{model.__name__}: {problems}") from error


@cache
def settings_from_env[S: BaseModel](model: type[S]) -> S:
    """The settings of this execution environment (parsed on first use, then reused)."""
    return parse_settings(model, os.environ)
