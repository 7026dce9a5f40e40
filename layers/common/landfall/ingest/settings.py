"""The manifest writer's settings, parsed from its environment once per cold start (`core.settings`)."""

from __future__ import annotations

from pydantic import Field

from landfall.core.settings import Settings
from landfall.ingest.messages import RunConfig

MAP_MAX_CONCURRENCY = 10_000  # what a Distributed Map's MaxConcurrency of 0 means


class ManifestWriterSettings(Settings):
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
