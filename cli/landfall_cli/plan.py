"""What a run will do and cost, before it starts: objects, bytes, batches, files, duration, AWS cost.

Batches are cut exactly as the manifest writer cuts them (`landfall.ingest.batching`). Duration and
processor time come from a throughput per processor (stored, usually gzip, bytes per second;
`make bench` measures what one core reaches) and the map's concurrency. Each batch writes a Parquet
file per hour its records fall in (`landfall.process.curated`), and the reducer commits them all in
one Iceberg commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from landfall.core.costs import CostEstimate, Prices, estimate, run_requests, run_usage
from landfall.core.writers import put_requests
from landfall.deploy.capacity import (
    COMMIT_SECONDS,
    COMMIT_SECONDS_PER_FILE,
    CURATED_BYTES_PER_STORED_BYTE,
    CURATED_FILES_PER_BATCH,
    GZIP_BYTES_PER_VCPU_SECOND,
)
from landfall.ingest.batching import Batcher, BatchLimits
from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.process.curated import CURATED_PART_BYTES, CURATED_SINGLE_PUT_BYTES


@dataclass(frozen=True)
class Throughput:
    stored_bytes_per_second: float = GZIP_BYTES_PER_VCPU_SECOND  # per processor at one vCPU, gzip JSON lines
    seconds_per_batch: float = 0.3  # invocation, first requests, summary
    files_per_batch: float = CURATED_FILES_PER_BATCH  # Parquet files a batch writes: the hours of its records
    curated_ratio: float = CURATED_BYTES_PER_STORED_BYTE  # Parquet bytes per input (gzip) byte
    reducer_seconds: float = 2.0  # the results and the report; the commit's are apart
    commit_seconds: float | None = None  # the run's commit; None: from its files (deploy.capacity)


@dataclass
class RunPlan:
    """Accumulates a run's items as they are listed; nothing of them is kept."""

    config: RunConfig
    objects: int = 0
    bytes: int = 0
    larger_than_a_batch: int = 0  # objects over max_batch_bytes: each goes alone, and may not fit the timeout
    batcher: Batcher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.batcher = Batcher(BatchLimits.of(self.config))

    def add(self, item: ManifestItem) -> None:
        self.batcher.add(item)
        self.objects += 1
        self.bytes += item.size
        self.larger_than_a_batch += item.size > self.config.max_batch_bytes

    @property
    def batches(self) -> int:
        return self.batcher.batches

    @property
    def largest_batch_bytes(self) -> int:
        return self.batcher.largest_batch_bytes

    def files(self, throughput: Throughput) -> int:
        """The Parquet files the run writes, and its commit adds to the table."""
        return math.ceil(self.batches * throughput.files_per_batch)

    def processor_seconds(self, throughput: Throughput) -> float:
        return self.bytes / throughput.stored_bytes_per_second + self.batches * throughput.seconds_per_batch

    def reducer_seconds(self, throughput: Throughput) -> float:
        """The reducer's time: the results and the report, then the commit of the run's files."""
        commit = throughput.commit_seconds
        if commit is None:
            commit = COMMIT_SECONDS + self.files(throughput) * COMMIT_SECONDS_PER_FILE if self.batches else 0.0
        return throughput.reducer_seconds + commit

    def duration_seconds(self, throughput: Throughput) -> float:
        """Wall time at the configured concurrency (0 means as many as Step Functions allows: 10,000)."""
        if not self.batches:
            return 0.0
        parallel = min(self.config.max_concurrency or 10_000, self.batches)
        longest = self.largest_batch_bytes / throughput.stored_bytes_per_second + throughput.seconds_per_batch
        return max(longest, self.processor_seconds(throughput) / parallel) + self.reducer_seconds(throughput)

    def cost(
        self,
        processor_memory_mb: int,
        reducer_memory_mb: int,
        throughput: Throughput | None = None,
        prices: Prices | None = None,
        list_requests: int = 0,
    ) -> CostEstimate:
        throughput = throughput or Throughput()
        commits = 1 if self.batches else 0
        gets, puts = run_requests(
            object_gets=self.objects,
            object_puts=self.curated_puts(throughput) + self.objects,  # and each object's quarantine
            progress_markers=self.batches,
            result_files=math.ceil(self.batches / 1000),  # ResultWriter's files, roughly
            redrive_manifest=True,
            list_requests=list_requests,
            commit_attempts=commits,
        )
        usage = run_usage(
            batches=self.batches,
            processor_seconds=self.processor_seconds(throughput),
            processor_gb_seconds=self.processor_seconds(throughput) * processor_memory_mb / 1024,
            reducer_gb_seconds=self.reducer_seconds(throughput) * reducer_memory_mb / 1024,
            s3_gets=gets,
            s3_puts=puts,
            commit_attempts=commits,
        )
        return estimate(usage, self.bytes, prices)

    def curated_puts(self, throughput: Throughput) -> int:
        """PUT-priced requests of the run's Parquet files, as the processor writes them (one PUT below the
        single-PUT size, else a multipart upload). A batch's hours are rarely even (most records in the
        hour they arrived in, a few late ones in others): one file of an average batch is taken to hold all
        its bytes, and each other file a PUT."""
        if not self.batches:
            return 0
        curated = math.ceil(self.bytes / self.batches * throughput.curated_ratio)
        largest = put_requests(curated, CURATED_PART_BYTES, CURATED_SINGLE_PUT_BYTES)
        return math.ceil(self.batches * (largest + max(throughput.files_per_batch - 1, 0)))
