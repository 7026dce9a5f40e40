"""The template and the state machine definition agree, and the template has every part of the flow."""

import json
import re

import pytest

from landfall.core.custom_resource import CustomResourceRequest
from landfall.table.catalog import name_response
from landfall_emulator.template import Stack, load_template
from tests.paths import REPO_ROOT, TEMPLATE_PATH

TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES = TEMPLATE["Resources"]


def test_every_asl_substitution_is_defined_and_every_definition_is_used():
    machine = RESOURCES["PipelineStateMachine"]["Properties"]
    asl = (REPO_ROOT / machine["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{(\w+)\}", asl))
    assert used == set(machine["DefinitionSubstitutions"])


def test_the_resolved_definition_is_valid_json_with_no_placeholder_left():
    definition = Stack(TEMPLATE).state_machine_definition("PipelineStateMachine", REPO_ROOT)
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


def test_firehose_writes_gzip_newline_delimited_records_under_the_landing_prefix():
    config = RESOURCES["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert config["CompressionFormat"] == "GZIP"
    local = Stack(TEMPLATE, parameter_overrides={"LandingPrefix": "firehose/"})
    assert local.resolve(config["Prefix"]) == "firehose/!{timestamp:yyyy/MM/dd/HH}/"
    assert local.function_environment("ManifestWriterFunction")["KEY_PREFIX"] == "firehose/"
    (processor,) = config["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "AppendDelimiterToRecord"


def test_the_layer_is_built_by_sam_from_its_requirements():
    layer = RESOURCES["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    folder = REPO_ROOT / layer["Properties"]["ContentUri"]
    assert "build-CommonLayer:" in (folder / "Makefile").read_text()
    assert (folder / "requirements.txt").exists() and (folder / "landfall" / "__init__.py").exists()


def test_distributed_map_settings_come_from_the_deployment():
    asl = json.loads((REPO_ROOT / "statemachine/pipeline.asl.json").read_text())
    process = asl["States"]["ProcessObjects"]
    assert process["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert process["ItemReader"]["ReaderConfig"]["InputType"] == "JSONL"
    assert "ItemBatcher" not in process  # the manifest's lines are the batches, cut by bytes of objects
    assert process["ItemSelector"]["Items.$"] == "$$.Map.Item.Value.objects"
    assert "MaxConcurrencyPath" in process and "ToleratedFailurePercentagePath" in process
    environment = RESOURCES["ManifestWriterFunction"]["Properties"]["Environment"]["Variables"]
    for parameter in (
        "MaxConcurrency",
        "ProcessorConcurrencyLimit",
        "MaxItemsPerBatch",
        "MaxBatchMiB",
        "ToleratedFailurePercentage",
    ):
        assert {"Ref": parameter} in environment.values()
    throttles, transient = process["ItemProcessor"]["States"]["ProcessBatch"]["Retry"]
    assert (
        throttles["ErrorEquals"] == ["Lambda.TooManyRequestsException"] and "TransientError" in transient["ErrorEquals"]
    )
    assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1 for r in (throttles, transient))


def _environments() -> dict[str, dict[str, str]]:
    import tomllib

    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
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


def _named(stack: Stack) -> Stack:
    """The stack after CloudFormation created its CatalogName resource: the catalog function's answer."""
    properties = stack.resolve(RESOURCES["CatalogName"]["Properties"])
    answer = name_response(
        CustomResourceRequest.model_validate(
            {
                "RequestType": "Create",
                "ResponseURL": "https://r",
                "StackId": stack.stack_id,
                "RequestId": "r",
                "LogicalResourceId": "CatalogName",
                "ResourceType": RESOURCES["CatalogName"]["Type"],
                "ResourceProperties": properties,
            }
        )
    )
    stack.custom_resources["CatalogName"] = (answer.physical_resource_id, answer.data)
    return stack


def test_a_stack_named_in_mixed_case_gets_one_folded_database_name_everywhere():
    """The view's schema, the outputs and `landfall query --stack` on the emulator: tests/integration/test_table.py."""
    stack = _named(Stack(TEMPLATE, name="Landfall-Prod", parameter_overrides={"UseLakeFormation": "true"}))
    assert stack.physical_name("CatalogDatabase") == stack.ref("CatalogDatabase") == "landfall_prod"
    statements = stack.resolve(RESOURCES["CatalogTablesPolicy"]["Properties"]["PolicyDocument"])["Statement"]
    (statement,) = [s for s in statements if s.get("Sid") == "KeepTables"]
    assert statement["Resource"][1:] == [
        "arn:aws:glue:us-east-1:123456789012:database/landfall_prod",
        "arn:aws:glue:us-east-1:123456789012:table/landfall_prod/*",
    ]
    database_grant = stack.resolve(RESOURCES["CatalogLakeFormationDatabaseGrant"]["Properties"])["Resource"]
    tables_grant = stack.resolve(RESOURCES["CatalogLakeFormationTablesGrant"]["Properties"])["Resource"]
    assert database_grant["Database"]["Name"] == tables_grant["Table"]["DatabaseName"] == "landfall_prod"
    assert stack.resolve(RESOURCES["Catalog"]["Properties"])["DatabaseName"] == "landfall_prod"  # the view's schema
    # CloudFormation's order has no circle; the catalog runs after its policy is in place
    order = stack.creation_order(list(RESOURCES))
    assert order.index("CatalogName") < order.index("CatalogDatabase") < order.index("Catalog")
    assert order.index("CatalogTablesPolicy") < order.index("Catalog")


@pytest.mark.parametrize("use", ["false", "true"])
def test_lake_formation_grants_exist_only_when_asked_for_and_come_before_the_catalog(use):
    stack = _named(Stack(TEMPLATE, parameter_overrides={"UseLakeFormation": use}))
    grants = {i: r for i, r in RESOURCES.items() if r["Type"].startswith("AWS::LakeFormation::")}
    assert set(grants) == {
        "CatalogLakeFormationDatabaseGrant",
        "CatalogLakeFormationTablesGrant",
        "ReducerLakeFormationTablesGrant",  # its commit alters the table
        "UpkeepLakeFormationTablesGrant",  # so do compaction, expiry and the manifests' rewrite
    }
    assert all(r["Condition"] == "UseLakeFormation" for r in grants.values())
    for grant, role in (
        ("ReducerLakeFormationTablesGrant", "ReducerRole"),
        ("UpkeepLakeFormationTablesGrant", "UpkeepRole"),
    ):
        committer = stack.resolve(grants.pop(grant)["Properties"])
        assert committer["Principal"] == {"DataLakePrincipalIdentifier": stack.resolve({"Fn::GetAtt": [role, "Arn"]})}
        assert committer["Permissions"] == ["ALTER", "DESCRIBE"] and committer["PermissionsWithGrantOption"] == []
    assert stack.condition("UseLakeFormation") is (use == "true")
    catalog = stack.resolve(RESOURCES["Catalog"]["Properties"])
    assert ("LakeFormationGrants" in catalog) is (use == "true")  # a dependency only when they exist
    role = {"DataLakePrincipalIdentifier": stack.resolve({"Fn::GetAtt": ["CatalogRole", "Arn"]})}
    database, tables = (stack.resolve(grants[i]["Properties"]) for i in sorted(grants))
    assert database["Principal"] == tables["Principal"] == role
    assert (database["Permissions"], database["PermissionsWithGrantOption"]) == (["CREATE_TABLE", "DESCRIBE"], [])
    assert tables["Resource"]["Table"]["TableWildcard"] == {}
    assert (tables["Permissions"], tables["PermissionsWithGrantOption"]) == (["ALTER", "DROP", "DESCRIBE"], [])


def _mentions(value: object, parameter: str) -> bool:
    if isinstance(value, dict):
        return value == {"Ref": parameter} or any(_mentions(v, parameter) for v in value.values())
    return isinstance(value, list) and any(_mentions(v, parameter) for v in value)


def test_an_existing_bucket_is_named_only_by_the_events_rule_and_the_processors_read_access():
    """Nothing else of the stack can write to, configure or delete the user's bucket."""
    naming = {logical_id for logical_id, resource in RESOURCES.items() if _mentions(resource, "ExistingLandingBucket")}
    assert naming == {"LandingEventsRule", "ProcessorRole"}
    adopted = Stack(TEMPLATE, parameter_overrides={"ExistingLandingBucket": "acme-firehose"})
    created = {"LandingBucket", "LandingBucketPolicy", "DeliveryStream", "DeliveryStreamRole", "DeliveryStreamLogGroup"}
    assert not created & adopted.resources.keys()
    assert "LandingEventsRule" not in Stack(TEMPLATE).resources


def test_an_existing_buckets_events_reach_the_ingest_queue_which_lets_only_that_rule_send():
    adopted = Stack(TEMPLATE, parameter_overrides={"ExistingLandingBucket": "acme-firehose", "LandingPrefix": "k/"})
    rule = adopted.resolve(RESOURCES["LandingEventsRule"]["Properties"])
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["acme-firehose"]}, "object": {"key": [{"prefix": "k/"}]}},
    }
    assert [target["Arn"] for target in rule["Targets"]] == [adopted.arn("IngestQueue")]
    policy = adopted.resolve(RESOURCES["IngestQueuePolicy"]["Properties"]["PolicyDocument"])
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": adopted.arn("LandingEventsRule")}}


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"ExistingLandingBucket": "acme-firehose", "UseKinesisStream": "true"}, "ExistingBucketBringsItsStream"),
        ({"ExistingLandingBucket": "acme-firehose", "RawRetentionDays": "7"}, "ExistingBucketBringsItsStream"),
        ({"LandingPrefix": ""}, "CreatedBucketHasAPrefix"),
        ({"LandingPrefix": "errors/"}, "CreatedBucketHasAPrefix"),
        ({"ExistingLandingBucket": "Not_A_Bucket"}, "ExistingLandingBucket"),
    ],
)
def test_the_template_refuses_what_the_landing_shapes_cannot_do(overrides, refusal):
    from landfall_emulator.template import ParameterError

    with pytest.raises(ParameterError, match=refusal):
        Stack(TEMPLATE, parameter_overrides=overrides)


def test_an_existing_bucket_may_be_read_at_its_root():
    adopted = Stack(TEMPLATE, parameter_overrides={"ExistingLandingBucket": "acme-firehose", "LandingPrefix": ""})
    assert adopted.function_environment("ManifestWriterFunction")["KEY_PREFIX"] == ""


def test_landfall_invoke_offers_every_function_of_the_template():
    from landfall_cli.main import FUNCTIONS

    assert set(FUNCTIONS) == {i for i, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
