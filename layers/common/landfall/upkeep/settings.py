"""The maintenance functions' settings, parsed from their environment once per cold start (`core.settings`):
the template's parameters, each turned into what the library takes."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from landfall.jobs.settings import JobSettings
from landfall.upkeep.expiry import KEEP_LAST
from landfall.upkeep.housekeeping import Policy
from landfall.upkeep.messages import CompactionSettings, MiB
from landfall.upkeep.orphan_files import ORPHAN_WINDOW, Windows


class UpkeepSettings(JobSettings):
    database: str = Field(alias="DATABASE")
    bucket: str = Field(alias="PIPELINE_BUCKET")
    target_file_mib: int = Field(default=128, ge=16, le=1024, alias="TARGET_FILE_MIB")
    grace_minutes: int = Field(default=60, ge=0, alias="COMPACTION_GRACE_MINUTES")
    retention_days: int = Field(default=15, ge=1, alias="SNAPSHOT_RETENTION_DAYS")
    snapshots_kept: int = Field(default=KEEP_LAST, ge=1, alias="SNAPSHOTS_KEPT")
    orphan_days: int = Field(default=ORPHAN_WINDOW.days, ge=1, alias="ORPHAN_WINDOW_DAYS")
    memory_mb: int = Field(default=0, ge=0, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # set by the Lambda runtime

    def compaction(self) -> CompactionSettings:
        return CompactionSettings(target_bytes=self.target_file_mib * MiB, grace=timedelta(minutes=self.grace_minutes))

    def policy(self) -> Policy:
        return Policy(
            retention=timedelta(days=self.retention_days),
            keep_last=self.snapshots_kept,
            windows=Windows(orphan=timedelta(days=self.orphan_days)),
        )
