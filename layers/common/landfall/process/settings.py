"""The processor's settings, parsed from its environment once per cold start (`core.settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from landfall.jobs.settings import JobSettings


class ProcessorSettings(JobSettings):
    chunk_bytes: int = Field(default=512 << 10, ge=4096, alias="CHUNK_BYTES")
    max_line_bytes: int = Field(default=8 << 20, ge=1024, alias="MAX_LINE_BYTES")
    # objects up to this size are fetched concurrently, `fetch_concurrency` at a time
    small_object_bytes: int = Field(default=8 << 20, ge=0, alias="SMALL_OBJECT_BYTES")
    fetch_concurrency: int = Field(default=16, ge=1, le=256, alias="FETCH_CONCURRENCY")
    # object summaries beyond this size go to S3 and the batch output points to them
    inline_summary_bytes: int = Field(default=64 * 1024, ge=1024, le=200 * 1024, alias="INLINE_SUMMARY_BYTES")
    # curated rows the batch and its objects hold in memory before spilling them to SPILL_DIR (Lambda's /tmp)
    buffer_mib: int = Field(default=16, ge=1, alias="CURATED_BUFFER_MIB")
    spill_dir: str | None = Field(default=None, alias="SPILL_DIR")
    memory_mb: int = Field(default=0, ge=0, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # set by the Lambda runtime
    # a large object's read-ahead thread, and the upload thread of the batch's files. Pinned to one core they
    # cost nothing measurable (`make bench`: 0.96-1.04x inline); on AWS they also overlap S3's latency with work.
    large_object_threads: Literal["on", "off"] = Field(default="on", alias="LARGE_OBJECT_THREADS")

    def threaded(self, size: int) -> bool:
        """Whether an object of `size` bytes is fetched and inflated on a thread of its own."""
        return size > self.small_object_bytes and self.large_object_threads == "on"
