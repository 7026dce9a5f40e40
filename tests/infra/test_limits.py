"""Every configuration the template accepts stays inside the limits AWS enforces.

Parameters are resolved as CloudFormation would (`Stack` refuses what CloudFormation refuses), for
every value of the parameters that set a limit, and checked against AWS's documented limits: a
child's lifetime for its execution type (retries and their waits included), Lambda's 900 s, 256 KiB
of child input, bucket and state-machine names, SQS batching, concurrency.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib

import pytest

from landfall.core.costs import CHILD_EXECUTION_TYPE, Prices, run_usage
from landfall.deploy import capacity
from landfall.deploy.concurrency import AccountConcurrency, ConcurrencyDoesNotFit, Reservations
from landfall.ingest.batching import STEP_FUNCTIONS_PAYLOAD_BYTES, Batcher, BatchLimits
from landfall.ingest.messages import ManifestBatch, ManifestItem
from landfall.ingest.settings import ManifestWriterSettings
from landfall_emulator.template import NO_VALUE, ParameterError, Stack, load_template
from tests.paths import REPO_ROOT, TEMPLATE_PATH

TEMPLATE = load_template(TEMPLATE_PATH)
PARAMETERS = TEMPLATE["Parameters"]
ASL = json.loads((REPO_ROOT / "statemachine/pipeline.asl.json").read_text())
MAP = ASL["States"]["ProcessObjects"]
CHILD_LIFETIME = {"EXPRESS": 300, "STANDARD": 365 * 24 * 3600}  # seconds, retries and waits included
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SIZES = [size for size in itertools.product(capacity.MEMORY_SIZES_MB, capacity.BATCH_MIB) if capacity.fits(*size)]


def stack(**overrides: object) -> Stack:
    return Stack(TEMPLATE, parameter_overrides={name: str(value) for name, value in overrides.items()})


def test_the_spill_storage_is_what_the_batch_size_needs_and_lambda_allows():
    assert TEMPLATE["Mappings"]["ProcessorStorage"] == capacity.storage_mapping()
    for mib in capacity.BATCH_MIB:
        size = stack(MaxBatchMiB=mib).resolve(TEMPLATE["Resources"]["ProcessorFunction"]["Properties"])
        assert 512 <= size["EphemeralStorage"]["Size"] <= 10240


def test_the_timeout_mapping_is_what_the_measured_throughput_gives_for_every_allowed_size():
    assert TEMPLATE["Mappings"]["ProcessorTimeouts"] == capacity.timeout_mapping()
    assert PARAMETERS["ProcessorMemorySize"]["AllowedValues"] == list(capacity.MEMORY_SIZES_MB)
    assert PARAMETERS["MaxBatchMiB"]["AllowedValues"] == list(capacity.BATCH_MIB)


@pytest.mark.parametrize(("memory", "mib"), list(itertools.product(capacity.MEMORY_SIZES_MB, capacity.BATCH_MIB)))
def test_the_template_refuses_exactly_the_sizes_whose_batches_cannot_fit_900_s(memory, mib):
    if capacity.fits(memory, mib):
        stack(ProcessorMemorySize=memory, MaxBatchMiB=mib)
    else:
        with pytest.raises(ParameterError, match="BatchesFitTheTimeout"):
            stack(ProcessorMemorySize=memory, MaxBatchMiB=mib)


@pytest.mark.parametrize(("memory", "mib"), SIZES)
def test_a_full_batch_fits_the_processor_timeout_with_headroom_within_lambdas_900_s(memory, mib):
    timeout = stack(ProcessorMemorySize=memory, MaxBatchMiB=mib).function_property("ProcessorFunction", "Timeout")
    assert timeout <= capacity.LAMBDA_MAX_TIMEOUT
    assert timeout >= capacity.HEADROOM * capacity.batch_seconds(mib << 20, memory)
    assert PARAMETERS["FirehoseBufferSizeMiB"]["MaxValue"] <= mib  # any Firehose object fits any batch


def child_lifetime(task: dict, timeout: float) -> float:
    """The longest a child can live: every attempt its retriers allow running to the Lambda timeout,
    with the longest wait before each retry."""
    seconds = timeout
    for retrier in task.get("Retry", []):
        interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
        ceiling = retrier.get("MaxDelaySeconds", float("inf"))
        for attempt in range(retrier.get("MaxAttempts", 3)):
            seconds += min(interval * rate**attempt, ceiling) + timeout
    return seconds


@pytest.mark.parametrize(("memory", "mib"), SIZES)
def test_a_child_lives_within_its_execution_types_limit_whatever_the_configuration(memory, mib):
    child_type = MAP["ItemProcessor"]["ProcessorConfig"]["ExecutionType"]
    assert child_type == CHILD_EXECUTION_TYPE  # what the cost estimates assume
    timeout = stack(ProcessorMemorySize=memory, MaxBatchMiB=mib).function_property("ProcessorFunction", "Timeout")
    task = MAP["ItemProcessor"]["States"]["ProcessBatch"]
    assert child_lifetime(task, timeout) <= CHILD_LIFETIME[child_type]


def test_express_children_could_not_hold_the_shipped_retries_which_is_why_they_are_standard():
    task = MAP["ItemProcessor"]["States"]["ProcessBatch"]
    shortest = min(capacity.processor_timeout(memory, mib) for memory, mib in SIZES)
    assert child_lifetime(task, shortest) > CHILD_LIFETIME["EXPRESS"]


def test_a_standard_child_costs_less_than_an_express_one_for_the_default_batch():
    """The measured comparison the child type was chosen on: a full default batch at the measured speed."""
    seconds = capacity.batch_seconds(256 << 20, 1769)
    prices = Prices()

    def step_functions_usd(child_type: str) -> float:
        usage = run_usage(
            batches=1,
            processor_seconds=seconds,
            processor_gb_seconds=0,
            reducer_gb_seconds=0,
            s3_gets=0,
            s3_puts=0,
            child_type=child_type,
        )  # type: ignore[arg-type]
        transitions = usage.state_transitions - 6  # the parent's own are the same either way
        return (
            transitions * prices.state_transition
            + usage.express_requests * prices.express_request
            + usage.express_gb_seconds * prices.express_gb_second
        )

    assert step_functions_usd("STANDARD") < step_functions_usd("EXPRESS")


def test_a_childs_input_stays_under_256_kib_whatever_the_keys():
    batcher = Batcher(BatchLimits(max_objects=1000, max_bytes=1 << 40))
    key = "raw/" + "é日" * 340  # 1,024 bytes of UTF-8, 4,084 bytes once JSON escapes it
    lines = [
        batcher.add(ManifestItem(bucket="b" * 63, key=f"{key}{n:05d}", size=1, etag="e" * 34, version_id="v" * 32))
        for n in range(1000)
    ]
    lines = [line for line in [*lines, batcher.close()] if line]
    assert len(lines) > 10
    batch_input = {"version": 4, "run_id": "notification-" + "0" * 32, "output_bucket": "b" * 63}
    for line in lines:
        child_input = {
            "BatchInput": batch_input,
            "Items": ManifestBatch.model_validate_json(line).model_dump()["objects"],
        }
        assert len(json.dumps(child_input).encode()) < STEP_FUNCTIONS_PAYLOAD_BYTES


@pytest.mark.parametrize("name", ["a", "Landfall-Prod", "L" + "a" * 127])
def test_names_the_stack_gives_fit_aws_rules_whatever_the_stack_is_called(name):
    local = Stack(TEMPLATE, name=name)
    for bucket in ("LandingBucket", "PipelineBucket"):
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", local.physical_name(bucket)), bucket
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", local.physical_name("PipelineStateMachine"))
    explicitly_named = {"QueueName", "TopicName"}
    for logical_id, resource in RESOURCES_WITH_NAMES:
        assert not explicitly_named & set(resource.get("Properties", {})), logical_id  # CloudFormation names them


RESOURCES_WITH_NAMES = [
    (k, v) for k, v in TEMPLATE["Resources"].items() if v["Type"] in ("AWS::SQS::Queue", "AWS::SNS::Topic")
]


def test_the_ingest_window_cannot_be_zero_which_lambda_refuses_for_batches_over_ten():
    with pytest.raises(ParameterError, match="IngestBatchingWindowSeconds"):
        stack(IngestBatchingWindowSeconds=0)
    assert stack(IngestBatchingWindowSeconds=1, IngestBatchSize=10000)


def _reserved(local: Stack) -> dict[str, int]:
    """What a stack's functions reserve, by logical id."""
    values = {f: local.function_property(f, "ReservedConcurrentExecutions") for f in local.of_type(SERVERLESS_FUNCTION)}
    return {f: int(v) for f, v in values.items() if v is not None and v is not NO_VALUE}


def _check_of(local: Stack) -> Reservations:
    """What the stack's ConcurrencyCheck is told it will reserve."""
    return Reservations.of(local.resolve(TEMPLATE["Resources"]["ConcurrencyCheck"]["Properties"]))


def test_the_reducer_has_concurrency_of_its_own_whenever_the_processor_has_a_ceiling_across_runs():
    assert _reserved(stack()) == {} and _check_of(stack()).total == 0  # the default reserves nothing
    local = stack(ProcessorConcurrencyLimit=150)
    assert _reserved(local) == {"ProcessorFunction": 150, "ReducerFunction": 2}
    check = _check_of(local)  # what the check is told is what the functions reserve
    assert check.total == sum(_reserved(local).values()) and set(check.functions) == set(_reserved(local))
    settings = ManifestWriterSettings.model_validate(
        {"STATE_MACHINE_ARN": "x", "PIPELINE_BUCKET": "b", "MAX_CONCURRENCY": "0", "PROCESSOR_CONCURRENCY_LIMIT": "150"}
    )
    assert settings.run_config().max_concurrency == 150  # one run alone never throttles itself
    assert not stack(ProcessorConcurrencyLimit=0).condition("ReserveConcurrency")


def _environments() -> dict[str, Stack]:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
    stacks = {}
    for name, sections in config.items():
        if isinstance(sections, dict):  # not the file's `version`
            overrides = sections.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
            stacks[name] = stack(**dict(pair.split("=", 1) for pair in overrides.split()))
    return stacks


def test_both_environments_fit_one_account_at_the_default_quota_and_the_defaults_fit_a_new_account():
    environments = _environments()
    assert set(environments) == {"default", "prod"}
    for quota in (1000, 10):  # AWS's default quota; a new account's
        account = AccountConcurrency(quota=quota, unreserved=quota)
        for name in ("default", "prod") if quota == 1000 else ("default",):
            left = account.left_after(_check_of(environments[name]))  # raises what does not fit
            account = AccountConcurrency(quota=quota, unreserved=left)
        assert account.unreserved >= min(100, quota)
    with pytest.raises(ConcurrencyDoesNotFit, match="ProcessorConcurrencyLimit=0 "):
        AccountConcurrency(quota=10, unreserved=10).left_after(_check_of(environments["prod"]))


@pytest.mark.parametrize(
    "shape",
    [{"UseKinesisStream": "true"}, {"ExistingLandingBucket": "acme-firehose"}],
    ids=["created bucket and stream", "existing bucket"],
)
def test_every_resource_but_the_checks_own_waits_for_the_concurrency_check(shape):
    """What CloudFormation creates before the check: only what the check runs on."""
    local = stack(**shape, ProcessorConcurrencyLimit=10)

    def before(logical_id: str, seen: set[str]) -> set[str]:
        for dependency in local.dependencies(logical_id) - seen:
            seen.add(dependency)
            before(dependency, seen)
        return seen

    own = before("ConcurrencyCheck", set())
    assert own == {"ConcurrencyCheckFunction", "ConcurrencyCheckRole", "ConcurrencyCheckLogGroup"}
    waiting = {i for i in local.resources if "ConcurrencyCheck" in before(i, set())}
    layers = set(local.of_type("AWS::Serverless::LayerVersion"))  # every function's, the check's included
    assert set(local.resources) - waiting == own | layers | {"ConcurrencyCheck"}


def test_the_kms_key_may_be_a_multi_region_key():
    arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    assert stack(KmsKeyArn=arn).condition("UseCustomerKey")
    with pytest.raises(ParameterError, match="KmsKeyArn"):
        stack(KmsKeyArn="alias/mine")


def test_the_dead_letter_alarm_keeps_its_state_when_an_idle_queue_stops_reporting():
    assert TEMPLATE["Resources"]["DeadLetterAlarm"]["Properties"]["TreatMissingData"] == "ignore"


ADOPTED = {"ExistingLandingBucket": "acme-firehose", "LandingPrefix": "events/"}


def _landing_statements(local: Stack) -> dict[str, dict]:
    policy = local.resolve(local.resources["ProcessorRole"]["Properties"]["Policies"][0]["PolicyDocument"])
    return {s["Sid"]: s for s in policy["Statement"] if s["Sid"] in ("ReadLanding", "TellMissingObjects")}


def test_the_processor_may_list_the_landing_bucket_it_owns_so_a_missing_object_reads_as_missing():
    local = stack()
    statements = _landing_statements(local)
    bucket = f"arn:aws:s3:::{local.physical_name('LandingBucket')}"
    assert statements["ReadLanding"]["Resource"] == f"{bucket}/raw/*"
    listing = statements["TellMissingObjects"]
    assert listing["Resource"] == bucket and "Condition" not in listing


def test_on_an_existing_bucket_the_processor_reads_and_lists_under_the_prefix_only():
    statements = _landing_statements(stack(**ADOPTED))
    assert statements["ReadLanding"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statements["ReadLanding"]["Resource"] == "arn:aws:s3:::acme-firehose/events/*"
    assert statements["TellMissingObjects"]["Resource"] == "arn:aws:s3:::acme-firehose"
    assert statements["TellMissingObjects"]["Condition"] == {"StringLike": {"s3:prefix": "events/*"}}
