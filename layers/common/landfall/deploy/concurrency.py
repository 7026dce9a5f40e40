"""The stack's reserved concurrency against the account's Lambda quota, checked before anything else.

Lambda refuses a reservation that would leave the account fewer unreserved executions than its floor
(100, or the whole quota below that: a new account's 10 allows no reservation at all), but
CloudFormation meets the refusal only when it reaches the function, after the buckets, queues and
stream, which it then rolls back. `Custom::ConcurrencyCheck`, on which every other resource waits,
reads the account's figures first and fails the deployment at once, saying what would fit.

What the stack reserves: `ProcessorConcurrencyLimit` for the processor and, whenever that is not 0,
`ReducerReservation` for the reducer (a run's report never waits for processors to free the pool).
What the stack's functions hold already (an update, or a stack that predates the check) the change
frees, so it counts as room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from landfall.core.custom_resource import CustomResourceRequest, CustomResourceResponse
from landfall.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient

MIN_UNRESERVED = 100  # Lambda's floor of unreserved executions, where the quota is larger
LIMIT = "ProcessorConcurrencyLimit"
PHYSICAL_ID = "landfall-concurrency-check"


class ConcurrencyDoesNotFit(ValueError):
    """The stack's reservations would leave the account fewer unreserved executions than Lambda keeps."""


@dataclass(frozen=True)
class Reservations:
    """What the stack asks to reserve, and the logical ids of the functions that would hold it."""

    processor_limit: int
    reducer: int
    functions: tuple[str, ...] = ()

    @classmethod
    def of(cls, properties: dict[str, Any]) -> Reservations:
        """From the custom resource's properties (CloudFormation passes numbers as strings)."""
        return cls(
            int(properties.get(LIMIT, 0)),
            int(properties.get("ReducerReservation", 0)),
            tuple(properties.get("Functions", ())),
        )

    @property
    def total(self) -> int:
        return self.processor_limit + self.reducer if self.processor_limit else 0


@dataclass(frozen=True)
class AccountConcurrency:
    quota: int  # GetAccountSettings' AccountLimit.ConcurrentExecutions
    unreserved: int  # AccountLimit.UnreservedConcurrentExecutions: the quota less every reservation held
    held: int = 0  # of those reservations, what this stack's functions hold now

    @property
    def floor(self) -> int:
        return min(MIN_UNRESERVED, self.quota)

    def largest_limit(self, wanted: Reservations) -> int:
        """The largest ProcessorConcurrencyLimit that fits (0: reserve nothing, which always fits)."""
        return max(self.unreserved + self.held - self.floor - wanted.reducer, 0)

    def left_after(self, wanted: Reservations) -> int:
        """Unreserved executions once the stack holds what it wants; ConcurrencyDoesNotFit below the floor."""
        left = self.unreserved + self.held - wanted.total
        if wanted.total and left < self.floor:
            raise ConcurrencyDoesNotFit(refusal(self, wanted))
        return left


def refusal(account: AccountConcurrency, wanted: Reservations) -> str:
    fits = account.largest_limit(wanted)
    return (
        f"{LIMIT}={wanted.processor_limit} does not fit this account's Lambda concurrency: its quota is "
        f"{account.quota} concurrent executions, {account.unreserved + account.held} of them free for this stack "
        f"to reserve, and Lambda keeps {account.floor} unreserved; the stack would reserve {wanted.total} "
        f"({wanted.processor_limit} for the processor, {wanted.reducer} for the reducer). The most that fits is "
        f"{LIMIT}={fits}{' (no reservation)' if not fits else ''}, or ask for a higher quota "
        "(Service Quotas: AWS Lambda, Concurrent executions)."
    )


def read_account(
    lambda_client: LambdaClient, cloudformation: CloudFormationClient, stack_id: str, functions: tuple[str, ...]
) -> AccountConcurrency:
    limits = lambda_client.get_account_settings()["AccountLimit"]
    held = sum(_held(lambda_client, cloudformation, stack_id, logical_id) for logical_id in functions)
    return AccountConcurrency(limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"], held)


def _held(lambda_client: LambdaClient, cloudformation: CloudFormationClient, stack_id: str, logical_id: str) -> int:
    """The reservation the stack's function holds now: 0 while the stack has no such function yet."""
    try:
        found = cloudformation.describe_stack_resource(StackName=stack_id, LogicalResourceId=logical_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":  # no such resource (yet)
            return 0
        raise
    name = found["StackResourceDetail"].get("PhysicalResourceId")
    if not name:
        return 0
    return int(lambda_client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions", 0))


def check(
    request: CustomResourceRequest, lambda_client: LambdaClient, cloudformation: CloudFormationClient
) -> CustomResourceResponse:
    """Answer CloudFormation: SUCCESS if the stack's reservations fit (nothing reserved always does,
    without a call), ConcurrencyDoesNotFit otherwise. Deleting the check undoes nothing."""
    physical_id = request.physical_resource_id or PHYSICAL_ID
    wanted = Reservations.of(request.properties)
    if request.request_type == "Delete" or not wanted.total:
        return CustomResourceResponse(status="SUCCESS", physical_resource_id=physical_id)
    account = read_account(lambda_client, cloudformation, request.stack_id, wanted.functions)
    left = account.left_after(wanted)
    logger.info("the reservations fit", extra={"quota": account.quota, "reserved": wanted.total, "left": left})
    return CustomResourceResponse(status="SUCCESS", physical_resource_id=physical_id)
