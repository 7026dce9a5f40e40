"""What a run costs on AWS, from what it uses. Prices are settings (LANDFALL_PRICE_* variables).

Defaults are us-east-1 list prices: Lambda per GB-second (x86_64, or arm64 ~20 % less) and per request; Step Functions
Standard per state transition (a Distributed Map is charged one per child execution it starts; a
STANDARD child one more per state it runs), Express per request and per GB-second (billed for at
least 64 MB); S3 Standard per GET and per PUT/COPY/POST/LIST; the Glue Data Catalog per request (the
run's commit). Free tiers, data transfer inside a region and storage are not included.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EXPRESS_MIN_GB = 64 / 1024
ChildType = Literal["STANDARD", "EXPRESS"]
Architecture = Literal["x86_64", "arm64"]
# The map's children (statemachine/pipeline.asl.json; a test keeps the two the same). STANDARD: a
# child costs two transitions (its start, its one task) whatever it lasts, and may run past EXPRESS's
# 5 minutes; an EXPRESS child bills $1 per million starts plus 64 MB-seconds of its duration, which
# costs more from about 24 s of work on (README: what a run costs).
CHILD_EXECUTION_TYPE: ChildType = "STANDARD"
CHILD_STATES = 1  # the child's states: ProcessBatch
# A run's Iceberg commit, per attempt, whatever its number of files (`make bench` counts them,
# benchmarks/commit.py): GETs of the metadata JSON (loaded, then read again to commit), the object index
# and the last manifest list, a HEAD of the new manifest; PUTs of the index, the manifest, the manifest
# list and the metadata JSON; Glue's table read twice, its database read, and the swap (UpdateTable). A
# conflict repeats them.
COMMIT_S3_GETS, COMMIT_S3_PUTS, COMMIT_GLUE_REQUESTS = 5, 4, 4


class Prices(BaseModel):
    """Read from the environment with `settings_from_env(Prices)`; every price has a default."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    lambda_gb_second: float = Field(default=0.0000166667, alias="LANDFALL_PRICE_LAMBDA_GB_SECOND")
    lambda_gb_second_arm64: float = Field(default=0.0000133334, alias="LANDFALL_PRICE_LAMBDA_GB_SECOND_ARM64")
    architecture: Architecture = Field(default="x86_64", alias="LAMBDA_ARCHITECTURE")  # the functions' (template)
    lambda_request: float = Field(default=0.20 / 1e6, alias="LANDFALL_PRICE_LAMBDA_REQUEST")
    state_transition: float = Field(default=0.025 / 1000, alias="LANDFALL_PRICE_STATE_TRANSITION")
    express_request: float = Field(default=1.00 / 1e6, alias="LANDFALL_PRICE_EXPRESS_REQUEST")
    express_gb_second: float = Field(default=0.00001667, alias="LANDFALL_PRICE_EXPRESS_GB_SECOND")
    s3_get: float = Field(default=0.0004 / 1000, alias="LANDFALL_PRICE_S3_GET")
    s3_put: float = Field(default=0.005 / 1000, alias="LANDFALL_PRICE_S3_PUT")
    # https://aws.amazon.com/glue/pricing/: Data Catalog requests, past the first million a month
    glue_request: float = Field(default=1.00 / 1e6, alias="LANDFALL_PRICE_GLUE_REQUEST")

    @property
    def gb_second(self) -> float:
        """A Lambda GB-second on the functions' architecture."""
        return self.lambda_gb_second_arm64 if self.architecture == "arm64" else self.lambda_gb_second

    def on(self, architecture: Architecture) -> Prices:
        return self.model_copy(update={"architecture": architecture})


class Usage(BaseModel):
    """What a run uses (measured by the reducer, or planned before a backfill)."""

    lambda_requests: int = 0
    lambda_gb_seconds: float = 0.0
    state_transitions: int = 0
    express_requests: int = 0
    express_gb_seconds: float = 0.0
    s3_gets: int = 0
    s3_puts: int = 0
    glue_requests: int = 0


class CostEstimate(BaseModel):
    usage: Usage
    lambda_usd: float
    step_functions_usd: float
    s3_usd: float
    glue_usd: float = 0.0
    total_usd: float
    gigabytes: float  # input processed (as stored, usually gzip)
    usd_per_gb: float | None


def estimate(usage: Usage, input_bytes: int, prices: Prices | None = None) -> CostEstimate:
    prices = prices or Prices()
    lambda_usd = usage.lambda_requests * prices.lambda_request + usage.lambda_gb_seconds * prices.gb_second
    sfn_usd = (
        usage.state_transitions * prices.state_transition
        + usage.express_requests * prices.express_request
        + usage.express_gb_seconds * prices.express_gb_second
    )
    s3_usd = usage.s3_gets * prices.s3_get + usage.s3_puts * prices.s3_put
    glue_usd = usage.glue_requests * prices.glue_request
    total = lambda_usd + sfn_usd + s3_usd + glue_usd
    gigabytes = input_bytes / 1e9
    return CostEstimate(
        usage=usage,
        lambda_usd=round(lambda_usd, 6),
        step_functions_usd=round(sfn_usd, 6),
        s3_usd=round(s3_usd, 6),
        glue_usd=round(glue_usd, 6),
        total_usd=round(total, 6),
        gigabytes=round(gigabytes, 6),
        usd_per_gb=round(total / gigabytes, 6) if gigabytes else None,
    )


# The parent workflow's own transitions: Map start, Reduce, Verdict, Done/Fail (and a margin for retries).
PARENT_TRANSITIONS = 6


def run_usage(
    *,
    batches: int,
    processor_seconds: float,
    processor_gb_seconds: float,
    reducer_gb_seconds: float,
    s3_gets: int,
    s3_puts: int,
    child_type: ChildType = CHILD_EXECUTION_TYPE,
    commit_attempts: int = 0,
) -> Usage:
    """Usage of one run: one processor invocation and one child execution per batch, the manifest
    writer and the reducer, and the Glue requests of its commit's attempts. An EXPRESS child lives as
    long as its processor call, billed for 64 MB at least; a STANDARD one is billed for its states."""
    express = child_type == "EXPRESS"
    return Usage(
        lambda_requests=batches + 2,
        lambda_gb_seconds=processor_gb_seconds + reducer_gb_seconds,
        # one per child execution started, and a STANDARD child's own
        state_transitions=PARENT_TRANSITIONS + batches * (1 if express else 1 + CHILD_STATES),
        express_requests=batches if express else 0,
        express_gb_seconds=max(processor_seconds, 0.1 * batches) * EXPRESS_MIN_GB if express else 0.0,
        s3_gets=s3_gets,
        s3_puts=s3_puts,
        glue_requests=commit_attempts * COMMIT_GLUE_REQUESTS,
    )


def run_requests(
    *,
    object_gets: int,
    object_puts: int,
    result_files: int,
    redrive_manifest: bool,
    progress_markers: int,
    list_requests: int = 0,
    commit_attempts: int = 0,
) -> tuple[int, int]:
    """GET- and PUT-priced S3 requests of a run: its objects' own (reads; curated, quarantine and summary
    writes), each batch's progress, the manifest (written once, read by the ItemReader and twice by the
    reducer, which also asks when it was written), the ResultWriter's files and manifest, report.json,
    report.md, objects.jsonl and the timeline, the redrive manifest, LISTs, and the commit's files."""
    gets = object_gets + 3 + 1 + 1 + result_files + commit_attempts * COMMIT_S3_GETS
    puts = object_puts + progress_markers + 1 + result_files + 1 + 4 + int(redrive_manifest) + list_requests
    return gets, puts + commit_attempts * COMMIT_S3_PUTS
