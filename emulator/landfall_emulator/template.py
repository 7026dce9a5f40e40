"""Read template.yaml as CloudFormation would for one stack, to build the same resources locally.

Only what the emulator needs is resolved: parameters (defaults and overrides, refused as
CloudFormation refuses them), pseudo parameters, Ref / Fn::Sub / Fn::GetAtt / Fn::Join / Fn::Split /
Fn::Select / Fn::FindInMap / Fn::If of the resources the local stack creates, and the state machine's
DefinitionSubstitutions, so the emulator runs the real ASL file with the names the stack would have.
Files the template names (DefinitionUri, CodeUri) are relative to its folder, as for `sam build`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt, ...) as their long forms."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


NO_VALUE = object()  # AWS::NoValue: the property is left out
_SUB_NAME = re.compile(r"\$\{([^!}][^}]*)\}")  # ${Name} or ${Resource.Attribute}; ${!Literal} is text


def _named(value: Any) -> set[str]:
    """Every name a value refers to (Ref, Fn::GetAtt, Fn::Sub), both branches of an Fn::If included."""
    if isinstance(value, list):
        return set().union(*(_named(item) for item in value))
    if not isinstance(value, dict):
        return set()
    if set(value) == {"Ref"}:
        return {value["Ref"]}
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        return {target.split(".", 1)[0] if isinstance(target, str) else target[0]}
    if set(value) == {"Fn::Sub"}:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        return {name.split(".", 1)[0] for name in _SUB_NAME.findall(text)} | _named(variables)
    return set().union(*(_named(item) for item in value.values()))


class ParameterError(ValueError):
    """A parameter value CloudFormation would refuse."""


def check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """Refuse `value` as CloudFormation does: type, AllowedValues, MinValue/MaxValue, AllowedPattern."""
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"{name}: {value!r} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ParameterError(f"{name}: {value} is below its minimum {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ParameterError(f"{name}: {value} is above its maximum {spec['MaxValue']}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in {str(a) for a in allowed}:
        raise ParameterError(f"{name}: {value!r} is not one of {', '.join(map(str, allowed))}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise ParameterError(f"{name}: {value!r} does not match {pattern}")


@dataclass
class Stack:
    """One stack's view of the template: parameters resolved, names assigned."""

    template: dict[str, Any]
    name: str = "landfall-local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    parameter_overrides: dict[str, str] | None = None

    def __post_init__(self) -> None:
        specs = self.template.get("Parameters", {})
        unknown = set(self.parameter_overrides or {}) - set(specs)
        if unknown:
            raise ParameterError(f"the template has no parameter {', '.join(sorted(unknown))}")
        self.parameters = {
            key: str((self.parameter_overrides or {}).get(key, spec.get("Default", ""))) for key, spec in specs.items()
        }
        for key, value in self.parameters.items():
            check_parameter(key, specs[key], value)
        self.custom_resources: dict[str, tuple[str, dict[str, str]]] = {}  # created: (physical id, Data)
        self.stack_id = f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.name}/{self._uuid()}"
        # the resources the stack creates: a resource whose Condition is false does not exist
        self.resources: dict[str, Any] = {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }
        self._check_rules()

    def _check_rules(self) -> None:
        """The template's Rules, as CloudFormation checks them before it creates anything."""
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._evaluate(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self._evaluate(assertion["Assert"]):
                    raise ParameterError(f"{name}: {assertion.get('AssertDescription', 'refused')}")

    def _uuid(self) -> str:
        """A stack id's UUID, the same for the same stack name (so local names are stable)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"landfall-local/{self.account_id}/{self.region}/{self.name}"))

    # -- names the stack gives its resources
    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        explicit = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Serverless::StateMachine": "Name",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::CloudWatch::Dashboard": "DashboardName",
            "AWS::Kinesis::Stream": "Name",
            "AWS::Athena::WorkGroup": "Name",
            "AWS::Events::Rule": "Name",
        }.get(resource["Type"])
        if explicit and explicit in props:
            return str(self.resolve(props[explicit]))
        if resource["Type"] == "AWS::Glue::Database":
            return str(self.resolve(props["DatabaseInput"]["Name"]))
        # as CloudFormation names what the template does not: stack and logical id, cut to fit every service
        return f"{self.name[:30]}-{logical_id[:30]}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        region, account = self.region, self.account_id
        return {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{region}:{account}:stream/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
        }[kind]

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.resources[name]["Type"]
        if kind in ("AWS::Serverless::StateMachine",):
            return self.arn(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{self.physical_name(name)}"
        if kind.startswith("Custom::"):
            return self._custom(name)[0]
        return self.physical_name(name)

    def _custom(self, logical_id: str) -> tuple[str, dict[str, str]]:
        if logical_id not in self.custom_resources:
            raise KeyError(f"the custom resource {logical_id} was not created")
        return self.custom_resources[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> str:
        if self.resources[logical_id]["Type"].startswith("Custom::"):
            return self._custom(logical_id)[1][attribute]
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("Name", "QueueName"):
            return self.physical_name(logical_id)
        raise KeyError(f"{logical_id}.{attribute} is not resolved locally")

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template.get("Conditions", {})[name]))

    def _evaluate(self, value: Any) -> Any:
        """Condition functions: Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition references."""
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Equals":
                left, right = (str(self._evaluate(a)) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not self._evaluate(argument[0])
            if function == "Fn::And":
                return all(self._evaluate(a) for a in argument)
            if function == "Fn::Or":
                return any(self._evaluate(a) for a in argument)
        return self.resolve(value)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((intrinsic, argument),) = value.items()
            if intrinsic == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else self.ref(argument)
            if intrinsic == "Fn::GetAtt":
                return self.get_att(*argument)
            if intrinsic == "Fn::Sub":
                return self._sub(argument)
            if intrinsic == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if intrinsic == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if intrinsic == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if intrinsic == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if intrinsic == "Fn::FindInMap":
                name, top, second = (str(self.resolve(part)) for part in argument)
                return self.template["Mappings"][name][top][second]
        if isinstance(value, dict):
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not NO_VALUE]
        return value

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return _SUB_NAME.sub(replace, text)

    # -- what the emulator builds
    def of_type(self, kind: str) -> list[str]:
        return [logical_id for logical_id, r in self.resources.items() if r["Type"] == kind]

    def dependencies(self, logical_id: str) -> set[str]:
        """The resources CloudFormation creates before `logical_id`: those it names, and its DependsOn."""
        resource = self.resources[logical_id]
        depends = resource.get("DependsOn", [])
        named = _named(resource.get("Properties", {})) | ({depends} if isinstance(depends, str) else set(depends))
        return named & self.resources.keys()

    def creation_order(self, logical_ids: list[str]) -> list[str]:
        """`logical_ids` in an order CloudFormation could create them (a circular template raises)."""
        graph = {logical_id: self.dependencies(logical_id) for logical_id in self.resources}
        wanted = set(logical_ids)
        return [logical_id for logical_id in TopologicalSorter(graph).static_order() if logical_id in wanted]

    def outputs(self) -> dict[str, str]:
        """The stack's Outputs, as CloudFormation would report them (those whose condition holds)."""
        return {
            name: str(self.resolve(output["Value"]))
            for name, output in self.template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def function_environment(self, logical_id: str) -> dict[str, str]:
        globals_ = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = self.resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {key: str(self.resolve(value)) for key, value in {**globals_, **own}.items()}

    def function_property(self, logical_id: str, name: str, default: Any = None) -> Any:
        """A function's property as SAM deploys it: its own, else Globals'; a list (Layers) is both,
        the global entries first."""
        props = self.resources[logical_id]["Properties"]
        globals_ = self.template.get("Globals", {}).get("Function", {})
        own, shared = props.get(name), globals_.get(name)
        if isinstance(own, list) and isinstance(shared, list):
            return self.resolve([*shared, *own])
        return self.resolve(own if own is not None else shared if shared is not None else default)

    def function_layers(self, logical_id: str) -> list[str]:
        """The logical ids of a function's layers, in the order Lambda stacks them (Globals' first), each
        `Fn::If` decided by its condition (the Architecture's layer)."""
        globals_ = self.template.get("Globals", {}).get("Function", {}).get("Layers", [])
        own = self.resources[logical_id]["Properties"].get("Layers", [])
        return [self._layer_id(layer) for layer in [*globals_, *own]]

    def _layer_id(self, value: Any) -> str:
        if isinstance(value, dict) and "Fn::If" in value:
            name, yes, no = value["Fn::If"]
            return self._layer_id(yes if self.condition(name) else no)
        return str(value["Ref"])

    def state_machine_definition(self, logical_id: str, template_dir: Path) -> str:
        """The ASL file (DefinitionUri, relative to the template's folder) with its DefinitionSubstitutions
        applied, as SAM deploys it."""
        props = self.resources[logical_id]["Properties"]
        definition = (template_dir / props["DefinitionUri"]).read_text()
        substitutions = {
            key: str(self.resolve(value)) for key, value in props.get("DefinitionSubstitutions", {}).items()
        }
        return re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], definition)
