"""The embedded emulator: one moto server on 127.0.0.1, the template's resources, the real handlers.

    with Emulator(template=Path("template.yaml"), parameter_overrides={"MaxItemsPerBatch": "5"}) as emulator:
        s3 = emulator.client("s3")
        ...

The template's folder is the project's: the state machines' DefinitionUri, the functions' CodeUri
and the layers' ContentUri are read from there. Everything listens on loopback only and stops when the context exits.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import boto3
from moto.server import ThreadedMotoServer

from landfall_emulator import custom_resources, lambda_account, map_children, moto_compat
from landfall_emulator.lambda_runtime import FunctionSpec, LambdaRuntime
from landfall_emulator.sqs_event_source import SqsEventSource
from landfall_emulator.template import NO_VALUE, Stack, load_template

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.literals import RuntimeType
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import NotificationConfigurationTypeDef, QueueConfigurationTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef, ExecutionListItemTypeDef

HOST = "127.0.0.1"
LOG = logging.getLogger(__name__)
STOP_SECONDS = 2.0  # the most `stop()` waits for the event sources: Ctrl-C ends everything within 5 s


_running: Emulator | None = None  # the one emulator of this process, if any


class EmulatorTimeout(TimeoutError):
    """Something did not happen within its deadline."""


class FunctionFailed(RuntimeError):
    """A function refused its invocation (an unhandled error): waiting longer would not help."""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise EmulatorTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Emulator:
    def __init__(
        self,
        *,
        template: Path,
        parameter_overrides: dict[str, str] | None = None,
        stack_name: str = "landfall-local",
        processor_workers: int = 2,
        log_dir: Path | None = None,
        real_retry_sleeps: bool = False,
        express_seconds: float = 300.0,
        account_concurrency: int = 1000,
        quiet: bool = True,
    ) -> None:
        self.quiet = quiet
        self.template_dir = template.resolve().parent
        self.stack = Stack(load_template(template), name=stack_name, parameter_overrides=parameter_overrides)
        self.processor_workers = processor_workers
        self.log_dir = log_dir
        self.real_retry_sleeps = real_retry_sleeps
        self.express_seconds = express_seconds  # AWS stops an EXPRESS child at 5 minutes; tests scale it down
        self.account_concurrency = account_concurrency  # Lambda's quota: 1,000 by default, a new account's 10
        self.event_sources: list[SqsEventSource] = []
        self._server: ThreadedMotoServer | None = None
        self._saved_moto_port: str | None = None

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything, or (if anything fails) stop what had started and raise."""
        global _running
        if _running is not None:  # moto's backends belong to the process: a second start would reset them
            raise RuntimeError(
                f"an emulator is already running in this process ({getattr(_running, 'endpoint_url', 'starting')})"
            )
        _running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        moto_compat.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
        if self.quiet:
            # moto logs every evaluation error of every state at ERROR level (a Choice probing an
            # absent field included) and warns about the tolerance fields this engine does honour.
            # Executions still report their errors through DescribeExecution.
            logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        map_children.retry_clock.real_sleeps = self.real_retry_sleeps
        map_children.limits.express_seconds = self.express_seconds
        lambda_account.account.concurrent_executions = self.account_concurrency
        self._server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        self._server.start()
        port = self._server.get_host_and_port()[1]
        self.endpoint_url = f"http://{HOST}:{port}"
        # moto's Step Functions engine calls S3 and Lambda through its own server on this port.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self.session = boto3.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=self.stack.region
        )
        self._post("/moto-api/reset", {})
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lambdas = LambdaRuntime(
            endpoint_url=self.endpoint_url,
            region=self.stack.region,
            account_id=self.stack.account_id,
            log_dir=self.log_dir,
        )
        self.lambdas.activate()
        map_children.retry_clock.wait_for_slot = self.lambdas.wait_for_slot  # a throttled retry's skipped backoff
        self._create_resources()

    def stop(self) -> None:
        """Stop the event sources, the functions' environments and the server; safe to call twice."""
        for source in self.event_sources:
            source.stopping.set()
        if hasattr(self, "lambdas"):  # first: a batch being delivered, a run's invocations end now
            self.lambdas.shutdown()
        deadline = time.monotonic() + STOP_SECONDS
        if self._server is not None:  # its requests in progress are answered; a poll after it finds no server
            self._server.stop()
            self._server = None
        for source in self.event_sources:
            if source.is_alive():  # its poll in progress ends within a second (daemon: never waited for longer)
                source.join(timeout=max(0.0, deadline - time.monotonic()))
        global _running
        if _running is self:
            _running = None
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port

    @overload
    def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def client(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["events"]) -> EventBridgeClient: ...
    @overload
    def client(self, service: Literal["iam"]) -> IAMClient: ...
    @overload
    def client(self, service: Literal["glue"]) -> GlueClient: ...
    @overload
    def client(self, service: Literal["athena"]) -> AthenaClient: ...
    def client(self, service: str) -> Any:
        """A client of the emulator's `service`, typed by the overloads (dev-only stubs)."""
        make: Any = self.session.client  # boto3's own overloads want a literal service name
        return make(service, endpoint_url=self.endpoint_url)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - http to the loopback server only
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            response.read()

    # ---------------------------------------------------------------- names
    @property
    def landing_bucket(self) -> str:
        """The bucket the stack created, or the existing one it was given (ExistingLandingBucket)."""
        return self.stack.parameters["ExistingLandingBucket"] or self.stack.physical_name("LandingBucket")

    @property
    def landing_prefix(self) -> str:
        return self.stack.parameters["LandingPrefix"]

    @property
    def pipeline_bucket(self) -> str:
        return self.stack.physical_name("PipelineBucket")

    @property
    def state_machine_arn(self) -> str:
        return self.stack.arn("PipelineStateMachine")

    def function_name(self, logical_id: str) -> str:
        return self.stack.physical_name(logical_id)

    def queue_logical_id(self, queue_url: str) -> str:
        return next(
            q
            for q in self.stack.of_type("AWS::SQS::Queue")
            if self.stack.ref(q).endswith("/" + queue_url.rsplit("/", 1)[-1])
        )

    def queue_url(self, logical_id: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=self.stack.physical_name(logical_id))["QueueUrl"]

    # ---------------------------------------------------------------- resources
    def _create_resources(self) -> None:
        role_arn = self.client("iam").create_role(
            RoleName=f"{self.stack.name}-execution",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        self._run_checks(role_arn)
        self._create_queues()
        # a function whose properties name a custom resource (the reducer's database) waits for it
        functions = self.stack.of_type("AWS::Serverless::Function")
        later = [i for i in functions if any(self._is_custom(d) for d in self.stack.dependencies(i))]
        self._create_functions([i for i in functions if i not in later], role_arn)
        for name in self._invoked_at_start():
            self.lambdas.prewarm(name)
        sfn = self.client("stepfunctions")
        for logical_id in self.stack.of_type("AWS::Serverless::StateMachine"):
            sfn.create_state_machine(
                name=self.stack.physical_name(logical_id),
                definition=self.stack.state_machine_definition(logical_id, self.template_dir),
                roleArn=role_arn,
                type=self.stack.resources[logical_id]["Properties"].get("Type", "STANDARD"),
            )
        self._create_buckets()
        self._create_event_rules()
        self._create_catalog()
        self._create_functions(later, role_arn)
        for source in self.event_sources:
            source.start()
        # Setting the notification sent an s3:TestEvent: let it pass before counting notifications.
        wait_for(lambda: all(s.idle.is_set() for s in self.event_sources), 60, "the event sources to settle")
        self._handled_at_start = sum(s.messages_handled for s in self.event_sources)
        self._errors_at_start = {s.function_name: len(s.function_errors) for s in self.event_sources}

    def _invoked_at_start(self) -> list[str]:
        """The functions the rest of the start invokes (the custom resources', and the event sources' the
        bucket's test event reaches), so that their cold starts run beside the creation of the rest."""
        tokens = [
            self.function_name(r["Properties"]["ServiceToken"]["Fn::GetAtt"][0])
            for r in self.stack.resources.values()
            if str(r["Type"]).startswith("Custom::")
        ]
        targets = [source.function_name for source in self.event_sources]
        return [name for name in dict.fromkeys(tokens + targets) if name in self.lambdas.functions]

    def _is_custom(self, logical_id: str) -> bool:
        return str(self.stack.resources[logical_id]["Type"]).startswith("Custom::")

    def _create_functions(self, logical_ids: list[str], role_arn: str) -> None:
        for logical_id in logical_ids:
            if self.function_name(logical_id) not in self.lambdas.functions:
                self._create_function(logical_id, role_arn)

    def _run_checks(self, role_arn: str) -> None:
        """The custom resources other resources wait on (DependsOn), each after its function, before
        anything else: as on AWS, a check that fails leaves the rest uncreated."""
        stack, s3 = self.stack, self.client("s3")
        waited_on = {name for r in stack.resources.values() for name in _as_list(r.get("DependsOn", []))}
        checks = [i for i in sorted(waited_on) if stack.resources[i]["Type"].startswith("Custom::")]
        if checks:
            s3.create_bucket(Bucket=custom_resources.RESPONSES_BUCKET)
        for logical_id in checks:
            self._create_function(stack.resources[logical_id]["Properties"]["ServiceToken"]["Fn::GetAtt"][0], role_arn)
            custom_resources.run(stack, s3, self.lambdas.invoke, logical_id)

    def _create_queues(self) -> None:
        sqs, stack = self.client("sqs"), self.stack
        queues = stack.of_type("AWS::SQS::Queue")
        for logical_id in queues:
            sqs.create_queue(QueueName=stack.physical_name(logical_id))
        for logical_id in queues:  # a redrive policy names its DLQ: every queue exists first
            props = stack.resolve(stack.resources[logical_id].get("Properties", {}))
            names: tuple[QueueAttributeNameType, ...] = ("VisibilityTimeout", "MessageRetentionPeriod")
            attributes = {key: str(props[key]) for key in names if key in props}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            if attributes:
                sqs.set_queue_attributes(QueueUrl=self.queue_url(logical_id), Attributes=attributes)

    def _create_buckets(self) -> None:
        s3, stack = self.client("s3"), self.stack
        for logical_id in stack.of_type("AWS::S3::Bucket"):
            name = stack.physical_name(logical_id)
            s3.create_bucket(Bucket=name)
            notification = stack.resources[logical_id].get("Properties", {}).get("NotificationConfiguration")
            if notification:
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration=self._notification(stack.resolve(notification))
                )

    def _create_event_rules(self) -> None:
        """EventBridge rules on the default bus, with their targets (an existing bucket's events)."""
        events, stack = self.client("events"), self.stack
        for logical_id in stack.of_type("AWS::Events::Rule"):
            props = stack.resolve(stack.resources[logical_id]["Properties"])
            name = stack.physical_name(logical_id)
            if "EventPattern" not in props:  # a schedule: moto never fires one (start its target by hand)
                continue
            events.put_rule(
                Name=name,
                EventPattern=json.dumps(props["EventPattern"]),
                State="ENABLED",
                Description=props.get("Description", ""),
            )
            events.put_targets(Rule=name, Targets=props["Targets"])

    def _create_catalog(self) -> None:
        """The Glue databases, Athena workgroups and custom resources, each after those it names (the
        database takes its name from one custom resource, and another fills it)."""
        stack, s3 = self.stack, self.client("s3")
        s3.create_bucket(Bucket=custom_resources.RESPONSES_BUCKET)
        creators = {"AWS::Glue::Database": self._create_database, "AWS::Athena::WorkGroup": self._create_work_group}
        wanted = [i for i, r in stack.resources.items() if r["Type"] in creators or r["Type"].startswith("Custom::")]
        for logical_id in stack.creation_order(wanted):
            kind = stack.resources[logical_id]["Type"]
            if kind in creators:
                creators[kind](logical_id)
            else:
                custom_resources.run(stack, s3, self.lambdas.invoke, logical_id)

    def _create_database(self, logical_id: str) -> None:
        database = self.stack.resolve(self.stack.resources[logical_id]["Properties"]["DatabaseInput"])
        self.client("glue").create_database(DatabaseInput=database)

    def _create_work_group(self, logical_id: str) -> None:
        props = self.stack.resolve(self.stack.resources[logical_id]["Properties"])
        configuration = props.get("WorkGroupConfiguration", {})
        if "BytesScannedCutoffPerQuery" in configuration:  # a parameter: text in the template
            configuration["BytesScannedCutoffPerQuery"] = int(configuration["BytesScannedCutoffPerQuery"])
        self.client("athena").create_work_group(
            Name=props["Name"], Description=props.get("Description", ""), Configuration=configuration
        )

    @staticmethod
    def _notification(config: dict[str, Any]) -> NotificationConfigurationTypeDef:
        """CloudFormation's NotificationConfiguration in the shape of the S3 API."""
        queue_configs: list[QueueConfigurationTypeDef] = []
        for queue in config.get("QueueConfigurations", []):
            rules = queue.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            entry: QueueConfigurationTypeDef = {"QueueArn": queue["Queue"], "Events": [queue["Event"]]}
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            queue_configs.append(entry)
        return {"QueueConfigurations": queue_configs}

    def _create_function(self, logical_id: str, role_arn: str) -> None:
        stack = self.stack
        name = stack.physical_name(logical_id)
        # the report's commands say --local here, not --stack: the one thing a function is told of the emulator
        environment = {**stack.function_environment(logical_id), "LANDFALL_LOCAL_EMULATOR": "true"}
        code_dir = self.template_dir / stack.function_property(logical_id, "CodeUri")
        handler = stack.function_property(logical_id, "Handler")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.write(code_dir / "app.py", "app.py")
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime=cast("RuntimeType", str(stack.function_property(logical_id, "Runtime"))),  # as Lambda names it
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": archive.getvalue()},
            Timeout=int(stack.function_property(logical_id, "Timeout", 3)),
            MemorySize=int(stack.function_property(logical_id, "MemorySize", 128)),
            Environment={"Variables": environment},
        )
        reserved = self._reserved_concurrency(logical_id)
        if reserved is not None:  # a call of its own, as CloudFormation makes it: Lambda may refuse it
            self.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        self.lambdas.register(
            FunctionSpec(
                logical_id=logical_id,
                name=name,
                code_dir=code_dir,
                handler=handler,
                environment=environment,
                memory_mb=int(stack.function_property(logical_id, "MemorySize", 128)),
                timeout_s=int(stack.function_property(logical_id, "Timeout", 3)),
                workers=self.processor_workers if logical_id == "ProcessorFunction" else 1,
                reserved_concurrency=reserved,
                layer_dirs=self._layer_dirs(logical_id),
            )
        )
        self._create_event_sources(logical_id, name)

    def _create_event_sources(self, logical_id: str, function_name: str) -> None:
        for event in self.stack.resources[logical_id]["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                props = self.stack.resolve(event["Properties"])
                queue_name = props["Queue"].rsplit(":", 1)[-1]
                url = self.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
                queue = (url, self.stack.arn(self.queue_logical_id(url)))
                clients = (self.client("sqs"), self.client("lambda"))
                self.event_sources.append(SqsEventSource(clients, queue, function_name, props, self.stack.region))

    def _layer_dirs(self, logical_id: str) -> tuple[Path, ...]:
        """The folders (ContentUri) of the template's layers the function names; a layer of another stack
        (an ARN) is not here to run."""
        stack = self.stack
        own = {stack.ref(layer): layer for layer in stack.of_type("AWS::Serverless::LayerVersion")}
        named = stack.function_property(logical_id, "Layers", [])
        return tuple(
            self.template_dir / stack.resources[own[ref]]["Properties"]["ContentUri"] for ref in named if ref in own
        )

    def _reserved_concurrency(self, logical_id: str) -> int | None:
        reserved = self.stack.function_property(logical_id, "ReservedConcurrentExecutions")
        return None if reserved is None or reserved is NO_VALUE else int(reserved)

    # ---------------------------------------------------------------- runs
    def executions(self) -> list[ExecutionListItemTypeDef]:
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        return [e for page in paginator.paginate(stateMachineArn=self.state_machine_arn) for e in page["executions"]]

    def wait_for_ingestion(self, notifications: int, timeout: float = 120) -> None:
        """Until `notifications` more messages were handled since the last wait, and no message is
        queued or in flight: the runs they start have started."""
        sqs = self.client("sqs")
        urls = [source.queue_url for source in self.event_sources]

        def drained() -> bool:
            for source in self.event_sources:
                if len(source.function_errors) > self._errors_at_start.get(source.function_name, 0):
                    self._errors_at_start[source.function_name] = len(source.function_errors)
                    raise FunctionFailed(f"{source.function_name}: {source.function_errors[-1]}")
            handled = sum(s.messages_handled for s in self.event_sources)
            if handled - self._handled_at_start < notifications or not all(s.idle.is_set() for s in self.event_sources):
                return False
            names: list[Literal["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]] = [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ]
            for url in urls:
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
                if any(int(attributes[name]) for name in names):
                    return False
            self._handled_at_start = handled
            return True

        try:
            wait_for(drained, timeout, f"{notifications} notifications to be ingested")
        except EmulatorTimeout as error:
            errors = [f"{s.name}: {e}" for s in self.event_sources for e in s.errors[-3:]]
            raise EmulatorTimeout("; ".join([str(error), *errors])) from None

    def ingested(self) -> tuple[int, dict[str, int]]:
        """What the manifest writer was told of, in all: objects, and those it dropped by reason."""
        objects, dropped = 0, dict[str, int]()
        for source in self.event_sources:
            for result in source.results:
                if isinstance(result, dict):
                    objects += result.get("objects", 0)
                    for reason, count in result.get("dropped", {}).items():
                        dropped[reason] = dropped.get(reason, 0) + count
        return objects, dropped

    def started_runs(self) -> set[str]:
        """The run ids the manifest writer answered with (a run it found started already included)."""
        return {
            result["run_id"]
            for source in self.event_sources
            for result in source.results
            if isinstance(result, dict) and result.get("run_id")
        }

    def wait_for_execution(self, execution_arn: str, timeout: float = 300) -> DescribeExecutionOutputTypeDef:
        sfn = self.client("stepfunctions")

        def finished() -> DescribeExecutionOutputTypeDef | None:
            described = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] != "RUNNING" else None

        return wait_for(finished, timeout, f"execution {execution_arn} to end", interval=0.2)
