"""Lambda's account-level concurrency, which moto 5.2.5 leaves out: the quota and its unreserved floor.

AWS refuses a reserved concurrency (PutFunctionConcurrency, which CloudFormation calls for a
function's ReservedConcurrentExecutions) that would leave the account fewer unreserved executions
than its floor: 100, or the whole quota where the quota is lower (a new account's 10: nothing can be
reserved there). GetAccountSettings reports the quota and what is left unreserved. moto enforces the
floor only when an environment variable names a quota, and has no GetAccountSettings; both are
replaced here, against `account.concurrent_executions` (the emulator's `account_concurrency`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.core.responses import TYPE_RESPONSE

MIN_UNRESERVED = 100
REFUSAL = (
    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
    "below its minimum value of [{floor}]."
)
# what GetAccountSettings reports besides concurrency: Lambda's fixed code-size limits
CODE_LIMITS = {"TotalCodeSize": 80_530_636_800, "CodeSizeUnzipped": 262_144_000, "CodeSizeZipped": 52_428_800}


@dataclass
class Account:
    concurrent_executions: int = 1000  # AWS's default quota per account and region

    @property
    def floor(self) -> int:
        """The unreserved executions Lambda keeps."""
        return min(MIN_UNRESERVED, self.concurrent_executions)


account = Account()


def _reserved(backend: Any, leaving_out: str | None = None) -> int:
    return sum(
        int(function.reserved_concurrency)
        for function in backend.list_functions()
        if function.reserved_concurrency is not None and function.function_name != leaving_out
    )


def put_function_concurrency(self: Any, function_name: str, reserved_concurrency: Any) -> Any:
    """Stands in for `LambdaBackend.put_function_concurrency`: refused as AWS refuses it."""
    function = self.get_function(function_name)
    left = account.concurrent_executions - _reserved(self, function.function_name) - int(reserved_concurrency)
    if left < account.floor:
        raise InvalidParameterValueException(REFUSAL.format(floor=account.floor))
    function.reserved_concurrency = int(reserved_concurrency)
    return function.reserved_concurrency


def get_account_settings(self: Any) -> TYPE_RESPONSE:
    """`LambdaResponse.get_account_settings`: GET /2016-08-19/account-settings/."""
    functions = self.backend.list_functions()
    limit = {
        **CODE_LIMITS,
        "ConcurrentExecutions": account.concurrent_executions,
        "UnreservedConcurrentExecutions": account.concurrent_executions - _reserved(self.backend),
    }
    usage = {"TotalCodeSize": sum(int(f.code_size) for f in functions), "FunctionCount": len(functions)}
    return 200, {}, json.dumps({"AccountLimit": limit, "AccountUsage": usage})


def url_paths() -> dict[str, Any]:
    """moto's Lambda routes with GetAccountSettings' added."""
    dispatch = lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/functions$"]
    return {**lambda_urls.url_paths, r"{0}/(?P<api_version>[^/]+)/account-settings/?$": dispatch}
