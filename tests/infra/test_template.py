"""The template and the state machine definition agree, and the template has every part of the flow."""

import json
import re

import pytest

from landfall_cli.local.template import PROJECT_ROOT, Stack, load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def test_every_asl_substitution_is_defined_and_every_definition_is_used():
    machine = RESOURCES["PipelineStateMachine"]["Properties"]
    asl = (PROJECT_ROOT / machine["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{(\w+)\}", asl))
    assert used == set(machine["DefinitionSubstitutions"])


def test_the_resolved_definition_is_valid_json_with_no_placeholder_left():
    definition = Stack(TEMPLATE).state_machine_definition("PipelineStateMachine")
    assert "${" not in definition
    json.loads(definition)


@pytest.mark.parametrize(
    ("logical_id", "kind"),
    [
        ("LandingBucket", "AWS::S3::Bucket"),
        ("PipelineBucket", "AWS::S3::Bucket"),
        ("IngestQueue", "AWS::SQS::Queue"),
        ("IngestDeadLetterQueue", "AWS::SQS::Queue"),
        ("ManifestWriterFunction", "AWS::Serverless::Function"),
        ("ProcessorFunction", "AWS::Serverless::Function"),
        ("ReducerFunction", "AWS::Serverless::Function"),
        ("CommonLayer", "AWS::Serverless::LayerVersion"),
        ("PipelineStateMachine", "AWS::Serverless::StateMachine"),
        ("DeliveryStream", "AWS::KinesisFirehose::DeliveryStream"),
    ],
)
def test_every_part_of_the_flow_exists(logical_id, kind):
    assert RESOURCES[logical_id]["Type"] == kind


def test_landing_notifications_reach_the_queue_which_has_a_dead_letter_queue():
    queue_configs = RESOURCES["LandingBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert queue_configs[0]["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    redrive = RESOURCES["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}


def test_the_queue_feeds_the_manifest_writer_with_batching_parameters_and_partial_failures():
    (event,) = RESOURCES["ManifestWriterFunction"]["Properties"]["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "SQS"
    assert props["BatchSize"] == {"Ref": "IngestBatchSize"}
    assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "IngestBatchingWindowSeconds"}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_firehose_writes_gzip_newline_delimited_records_under_raw():
    config = RESOURCES["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert config["CompressionFormat"] == "GZIP"
    assert config["Prefix"].startswith("raw/")
    (processor,) = config["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "AppendDelimiterToRecord"


def test_the_layer_is_built_by_sam_from_its_requirements():
    layer = RESOURCES["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    folder = PROJECT_ROOT / layer["Properties"]["ContentUri"]
    assert "build-CommonLayer:" in (folder / "Makefile").read_text()
    assert (folder / "requirements.txt").exists() and (folder / "landfall" / "__init__.py").exists()


def test_distributed_map_settings_come_from_the_deployment():
    asl = json.loads((PROJECT_ROOT / "statemachine/pipeline.asl.json").read_text())
    process = asl["States"]["ProcessObjects"]
    assert process["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert process["ItemReader"]["ReaderConfig"]["InputType"] == "JSONL"
    assert "ItemBatcher" not in process  # the manifest's lines are the batches, cut by bytes of objects
    assert process["ItemSelector"]["Items.$"] == "$$.Map.Item.Value.objects"
    assert "MaxConcurrencyPath" in process and "ToleratedFailurePercentagePath" in process
    environment = RESOURCES["ManifestWriterFunction"]["Properties"]["Environment"]["Variables"]
    for parameter in ("MaxConcurrency", "ProcessorConcurrencyLimit", "MaxItemsPerBatch", "MaxBatchMiB",
                      "ToleratedFailurePercentage"):  # fmt: skip
        assert {"Ref": parameter} in environment.values()
    throttles, transient = process["ItemProcessor"]["States"]["ProcessBatch"]["Retry"]
    assert (
        throttles["ErrorEquals"] == ["Lambda.TooManyRequestsException"] and "TransientError" in transient["ErrorEquals"]
    )
    assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1 for r in (throttles, transient))


def _environments() -> dict[str, dict[str, str]]:
    import tomllib

    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    environments = {}
    for name, sections in config.items():
        if isinstance(sections, dict):
            overrides = sections.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
            environments[name] = dict(pair.split("=", 1) for pair in overrides.split())
    return environments


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_each_samconfig_environment_sets_parameters_the_template_accepts(environment):
    overrides = _environments()[environment]
    stack = Stack(TEMPLATE, parameter_overrides=overrides)  # refuses what CloudFormation refuses
    assert all(stack.parameters[name] == value for name, value in overrides.items())
