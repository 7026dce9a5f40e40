"""The base of every message that passes between the pipeline's stages: each carries a version, so a
stage can tell a message of an older deploy. Each stage declares its own messages (`<stage>.messages`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

MESSAGE_VERSION = 4  # 2: manifests of batches, object versions; 3: curated Parquet files with their rows;
# 4: a batch's files (one per partition, for the run's Iceberg commit), each object's rows per partition


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: int = MESSAGE_VERSION


class S3Location(BaseModel):
    bucket: str
    key: str
