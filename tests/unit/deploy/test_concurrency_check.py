"""The concurrency check's arithmetic: what a stack may reserve of an account's Lambda quota."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from landfall.core.custom_resource import CustomResourceRequest
from landfall.deploy.concurrency import check

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/landfall-prod/3f2c1a70"
FUNCTIONS = ["ProcessorFunction", "ReducerFunction"]


class FakeLambda:
    """The account's figures, and what each function reserves."""

    def __init__(self, quota: int, reservations: dict[str, int] | None = None) -> None:
        self.quota, self.reservations, self.calls = quota, reservations or {}, 0

    def get_account_settings(self) -> dict[str, Any]:
        self.calls += 1
        unreserved = self.quota - sum(self.reservations.values())
        return {"AccountLimit": {"ConcurrentExecutions": self.quota, "UnreservedConcurrentExecutions": unreserved}}

    def get_function_concurrency(self, FunctionName: str) -> dict[str, int]:  # noqa: N803 - boto3's name
        reserved = self.reservations.get(FunctionName)
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}


class FakeCloudFormation:
    """The stack's resources created so far: logical id -> function name."""

    def __init__(self, physical: dict[str, str] | None = None) -> None:
        self.physical = physical or {}

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:  # noqa: N803
        if LogicalResourceId not in self.physical:
            message = f"Resource {LogicalResourceId} does not exist for stack {StackName}"
            raise ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "DescribeStackResource")
        return {"StackResourceDetail": {"PhysicalResourceId": self.physical[LogicalResourceId]}}


def request(limit: int, kind: str = "Create") -> CustomResourceRequest:
    return CustomResourceRequest.model_validate(
        {
            "RequestType": kind,
            "ResponseURL": "https://r",
            "StackId": STACK_ID,
            "RequestId": "r",
            "LogicalResourceId": "ConcurrencyCheck",
            "ResourceType": "Custom::ConcurrencyCheck",
            **({"PhysicalResourceId": "landfall-concurrency-check"} if kind != "Create" else {}),
            "ResourceProperties": {
                "ProcessorConcurrencyLimit": str(limit),
                "ReducerReservation": "2",
                "Functions": FUNCTIONS,
            },
        }
    )


PROD_HELD = {"prod-processor": 800, "prod-reducer": 2}  # a prod stack deployed already
PROD_RESOURCES = {"ProcessorFunction": "prod-processor", "ReducerFunction": "prod-reducer"}


def test_reserving_nothing_fits_any_account_without_a_call():
    account = FakeLambda(quota=10)
    assert check(request(0), account, FakeCloudFormation()).status == "SUCCESS"
    assert account.calls == 0


@pytest.mark.parametrize(
    ("quota", "held", "resources", "limit", "kind"),
    [
        (1000, {}, {}, 800, "Create"),  # prod alone, or beside the default stack (which reserves nothing)
        (1000, {"other": 98}, {}, 800, "Create"),  # leaves exactly 100
        (1000, PROD_HELD, PROD_RESOURCES, 850, "Update"),  # what prod holds is freed by its own change
        (1000, PROD_HELD, PROD_RESOURCES, 800, "Create"),  # a prod stack from before the check gains it
    ],
)
def test_reservations_that_leave_lambdas_floor_unreserved_fit(quota, held, resources, limit, kind):
    response = check(request(limit, kind), FakeLambda(quota, held), FakeCloudFormation(resources))
    assert response.status == "SUCCESS" and response.physical_resource_id == "landfall-concurrency-check"


@pytest.mark.parametrize(
    ("quota", "held", "resources", "limit", "figures"),
    [
        (10, {}, {}, 200, "quota is 10 concurrent executions, 10 of them free"),  # a new account
        (10, {}, {}, 1, "Lambda keeps 10 unreserved; the stack would reserve 3"),
        (1000, PROD_HELD, {}, 800, "quota is 1000 concurrent executions, 198 of them free"),  # a second prod
        (1000, PROD_HELD, PROD_RESOURCES, 900, "1000 of them free for this stack to reserve"),  # prod raised too far
        (1000, {"other": 99}, {}, 800, "Lambda keeps 100 unreserved; the stack would reserve 802"),
    ],
)
def test_a_reservation_that_does_not_fit_names_the_parameter_the_quota_and_what_fits(
    quota, held, resources, limit, figures
):
    with pytest.raises(ValueError) as refused:
        check(
            request(limit, "Update" if resources else "Create"), FakeLambda(quota, held), FakeCloudFormation(resources)
        )
    message = str(refused.value)
    assert message.startswith(f"ProcessorConcurrencyLimit={limit} does not fit this account's Lambda concurrency")
    assert figures in message
    free = quota - sum(held.values()) + sum(held[name] for name in resources.values())
    fits = max(free - min(100, quota) - 2, 0)
    assert f"The most that fits is ProcessorConcurrencyLimit={fits}" in message
    assert ("(no reservation)" in message) is (fits == 0)


@pytest.mark.parametrize(
    ("quota", "held", "limit"), [(1000, PROD_HELD, 800), (1000, {"other": 99}, 800), (250, {}, 200)]
)
def test_the_most_that_fits_fits_and_one_more_does_not(quota, held, limit):
    with pytest.raises(ValueError) as refused:
        check(request(limit), FakeLambda(quota, held), FakeCloudFormation())
    fits = int(re.search(r"The most that fits is ProcessorConcurrencyLimit=(\d+)", str(refused.value)).group(1))
    assert check(request(fits), FakeLambda(quota, held), FakeCloudFormation()).status == "SUCCESS"
    with pytest.raises(ValueError):
        check(request(fits + 1), FakeLambda(quota, held), FakeCloudFormation())


def test_deleting_the_check_undoes_nothing_and_calls_nothing():
    account = FakeLambda(quota=10)
    assert check(request(200, "Delete"), account, FakeCloudFormation()).status == "SUCCESS"
    assert account.calls == 0


def test_an_error_other_than_a_missing_resource_is_not_taken_for_nothing_held():
    class Denied(FakeCloudFormation):
        def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:  # noqa: N803
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeStackResource")

    with pytest.raises(ClientError, match="AccessDenied"):
        check(request(100), FakeLambda(1000), Denied())
