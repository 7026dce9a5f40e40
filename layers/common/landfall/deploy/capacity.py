"""How much work one processor does per second, and so the timeout a batch of objects needs.

One owner for the figures the template's `ProcessorTimeouts` mapping, the backfill plan and the README
use: the mapping holds `processor_timeout(memory, MiB)` for every ProcessorMemorySize and MaxBatchMiB
the template allows (tests/infra/test_limits.py fails if they drift apart; `python -m landfall.deploy.capacity`
prints the mappings to paste).

The throughput is what `make bench` measures for the processor through S3, output written, taken
down for a Lambda vCPU that may be slower than the machine it was measured on; the processor is one
thread of work, so memory beyond one vCPU (1,769 MB) does not make it faster.
"""

from __future__ import annotations

import math

# gzip input per second per vCPU, written as Parquet: `make bench` measured ~11 MB/s (40 MB/s of JSON) on
# one core here, taken down for a Lambda vCPU as the gzip JSON-lines output's 18 MB/s once was to 8 MB/s
GZIP_BYTES_PER_VCPU_SECOND = 5e6
# the table's files, as `make bench` measured them (benchmarks/results/latest.json)
CURATED_BYTES_PER_STORED_BYTE = 0.68  # Parquet (zstd) per gzip byte of JSON lines (events with ids of their own)
# A batch writes a file per hour its records fall in (`process.curated`). Its objects are consecutive (keys in
# Firehose's time order), so its records mostly fall in the hour they arrived in; late records (the sample
# data's: 1 % up to two hours late) add the two hours before. A batch's records span ~8,700 s (its ~20 minutes
# of objects, 4 of 64 MB at Firehose's default 300 s, the 5 minutes a buffer holds, two hours of late ones), so
# 1 + 8,700 / 3,600 hours on average: 3 within an hour (`make bench` measures such a batch), 4 at an hour's edge.
CURATED_FILES_PER_BATCH = 3.4
# A run's commit: 13 requests whatever its files (`core.costs`), then a manifest entry a file (`make bench`,
# a moto server on loopback: 0.08 s for 1 file, 0.17 s for 1,000, 8.7 s for 100,000). On AWS each request
# takes ~20-100 ms, not loopback's ~1 ms: a second for the fixed part.
COMMIT_SECONDS = 1.0
COMMIT_SECONDS_PER_FILE = 9e-5
VCPU_MB = 1769  # Lambda gives one full vCPU at this memory size
HEADROOM = 3.0  # a slower vCPU, a slower S3, objects that compress better than the measured ones
STARTUP_SECONDS = 30  # a cold start, the batch's first and last requests, its summary
LAMBDA_MAX_TIMEOUT = 900

MEMORY_SIZES_MB = (1024, 1769, 2048, 3008, 3538)  # the template's ProcessorMemorySize AllowedValues
BATCH_MIB = (128, 256, 512, 1024)  # MaxBatchMiB: at least Firehose's largest object (128 MiB)


def vcpus(memory_mb: int) -> float:
    return min(memory_mb, VCPU_MB) / VCPU_MB


def batch_seconds(batch_bytes: float, memory_mb: int) -> float:
    """Expected seconds of one batch of `batch_bytes` of gzip input."""
    return batch_bytes / (GZIP_BYTES_PER_VCPU_SECOND * vcpus(memory_mb))


def fits(memory_mb: int, batch_mib: int) -> bool:
    """Whether batches of `batch_mib` fit Lambda's 900 s with headroom (the template's Rules refuse the rest)."""
    return HEADROOM * batch_seconds(batch_mib << 20, memory_mb) + STARTUP_SECONDS <= LAMBDA_MAX_TIMEOUT


def processor_timeout(memory_mb: int, batch_mib: int) -> int:
    """The processor's timeout for batches of up to `batch_mib` MiB: the expected time with headroom,
    in whole tens of seconds, within Lambda's 900."""
    seconds = HEADROOM * batch_seconds(batch_mib << 20, memory_mb) + STARTUP_SECONDS
    return min(LAMBDA_MAX_TIMEOUT, math.ceil(seconds / 10) * 10)


# An object's rows beyond the processor's buffer are spilled to /tmp as Arrow until its Parquet files are
# written: measured, two thirds of the size of its JSON, and JSON lines compress about 4-10× in gzip.
SPILL_PER_STORED_BYTE = 8  # /tmp per MiB of a batch: the whole batch's rows at 12× of gzip
LAMBDA_STORAGE_MIB = (512, 10240)  # the ephemeral storage Lambda allows


def spill_storage_mib(batch_mib: int) -> int:
    """MiB of /tmp for batches of up to `batch_mib` MiB (a larger object goes alone, and may need more)."""
    low, high = LAMBDA_STORAGE_MIB
    return max(low, min(high, batch_mib * SPILL_PER_STORED_BYTE))


def storage_mapping() -> dict[str, dict[str, int]]:
    """The template's `ProcessorStorage` mapping: MaxBatchMiB → MiB of /tmp."""
    return {str(mib): {"MiB": spill_storage_mib(mib)} for mib in BATCH_MIB}


def timeout_mapping() -> dict[str, dict[str, int]]:
    """The template's `ProcessorTimeouts` mapping: memory size → MaxBatchMiB → seconds."""
    return {str(memory): {str(mib): processor_timeout(memory, mib) for mib in BATCH_MIB} for memory in MEMORY_SIZES_MB}


if __name__ == "__main__":
    print("  ProcessorTimeouts:  # landfall.deploy.capacity: memory MB -> MaxBatchMiB -> seconds")
    for memory, row in timeout_mapping().items():
        print(f'    "{memory}": {{' + ", ".join(f'"{mib}": {seconds}' for mib, seconds in row.items()) + "}")
    print("  ProcessorStorage:  # MaxBatchMiB -> MiB of /tmp")
    for mib, row in storage_mapping().items():
        print(f'    "{mib}": {{"MiB": {row["MiB"]}}}')
