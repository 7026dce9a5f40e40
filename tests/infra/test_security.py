"""What a security review checks, enforced on the template as SAM will deploy it.

IAM is checked on the transformed template (SAM's policy templates and managed policies expanded),
with both branches of every condition, so no deployment option can widen a permission.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from landfall.core.layout import (
    CURATED_PREFIX,
    MANIFESTS_PREFIX,
    QUARANTINE_PREFIX,
    QUERY_RESULTS_PREFIX,
    REPORTS_PREFIX,
    RESULTS_PREFIX,
    SUMMARIES_PREFIX,
)
from landfall_emulator.template import Stack, load_template
from tests.paths import REPO_ROOT, TEMPLATE_PATH

TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES = TEMPLATE["Resources"]
# actions whose service takes no resource narrower than "*"
STAR_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "lambda:GetAccountSettings",
}
ALLOWED_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"}  # X-Ray's, attached by SAM for tracing


@pytest.fixture(scope="module")
def transformed(monkeypatch_module) -> dict[str, Any]:
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = copy.deepcopy(TEMPLATE)
    for resource in template["Resources"].values():
        for uri in ("CodeUri", "DefinitionUri", "ContentUri"):  # what `sam package` puts there
            if uri in resource.get("Properties", {}):
                resource["Properties"][uri] = "s3://artifacts/key"

    class NoManagedPolicyLookup:
        def load(self) -> dict[str, str]:
            return {}

    return transform(template, {}, NoManagedPolicyLookup())


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _branches(value: Any) -> Iterator[Any]:
    """Every value a property may take: both branches of each Fn::If (AWS::NoValue left out)."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    for doc in _branches(document):
        statements = doc.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            yield from _branches(statement)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _iam_statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for each in _branches(policy):
                    for statement in _statements(each["PolicyDocument"]):
                        yield name, statement
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in _statements(props["PolicyDocument"]):
                yield name, statement


def test_no_allow_statement_has_a_wildcard_resource_but_where_the_service_has_none(transformed):
    checked = 0
    for name, statement in _iam_statements(transformed["Resources"]):
        checked += 1
        if statement["Effect"] != "Allow":
            continue
        actions = set(_as_list(statement["Action"]))
        assert not any(action.endswith(":*") or action == "*" for action in actions), (name, statement)
        if "*" in _as_list(statement["Resource"]):
            assert actions <= STAR_ACTIONS, f"{name}: {sorted(actions - STAR_ACTIONS)} on Resource '*'"
    assert checked >= 20


def test_roles_carry_no_broad_managed_policy(transformed):
    for name, resource in transformed["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            managed = set(resource["Properties"].get("ManagedPolicyArns", []))
            assert managed <= ALLOWED_MANAGED_POLICIES, (name, managed)


def test_every_wildcard_resource_is_explained_where_it_is_written():
    lines = (REPO_ROOT / "template.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.search(r'Resource:\s*"\*"', line):
            above = "\n".join(lines[max(0, number - 8) : number])
            assert re.search(r"#.*narrower", above), f"template.yaml:{number + 1}: say why '*' is needed"


@pytest.mark.parametrize("key", ["", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
@pytest.mark.parametrize("bucket", ["LandingBucket", "PipelineBucket"])
def test_buckets_are_private_encrypted_and_refuse_plain_http(bucket, key):
    stack = Stack(TEMPLATE, parameter_overrides={"KmsKeyArn": key})
    props = stack.resolve(RESOURCES[bucket]["Properties"])
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    default = rule["ServerSideEncryptionByDefault"]
    if key:
        assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    else:
        assert default == {"SSEAlgorithm": "AES256"}
    (policy,) = [
        r
        for r in RESOURCES.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert _denies_plain_transport(policy["Properties"]["PolicyDocument"])


def _denies_plain_transport(document: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in _statements(document)
    )


def test_queues_and_the_stream_are_encrypted_and_the_ingest_queue_refuses_plain_http():
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::SQS::Queue":
            props = resource["Properties"]
            assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
    assert RESOURCES["SourceStream"]["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    (policy,) = [r for r in RESOURCES.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert _denies_plain_transport(policy["Properties"]["PolicyDocument"])


def test_every_checkov_skip_is_justified():
    skips = 0
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips += 1
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]) and len(skip.get("comment", "")) > 30, (name, skip)
    assert skips


def test_the_queue_outlasts_six_manifest_writer_timeouts():
    writer_timeout = RESOURCES["ManifestWriterFunction"]["Properties"]["Timeout"]
    assert RESOURCES["IngestQueue"]["Properties"]["VisibilityTimeout"] >= 6 * writer_timeout


def test_every_function_and_the_state_machine_log_to_a_group_with_retention():
    def retained(group: dict[str, Any]) -> bool:
        return group["Type"] == "AWS::Logs::LogGroup" and group["Properties"]["RetentionInDays"] == {
            "Ref": "LogRetentionDays"
        }

    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Serverless::Function":
            group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            assert retained(RESOURCES[group]), name
    logging = RESOURCES["PipelineStateMachine"]["Properties"]["Logging"]
    (destination,) = logging["Destinations"]
    assert retained(RESOURCES[destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]])
    assert logging["IncludeExecutionData"] is False  # record data never reaches the logs
    assert RESOURCES["PipelineStateMachine"]["Properties"]["Tracing"] == {"Enabled": True}
    firehose_logs = RESOURCES["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert firehose_logs["CloudWatchLoggingOptions"]["Enabled"] is True


def test_functions_never_log_whole_events():
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    for handler in (REPO_ROOT / "functions").glob("*/app.py"):
        text = handler.read_text()
        assert "log_event=True" not in text and "from landfall.core.observability import" in text, handler


def _alarms(metric: str) -> list[dict[str, Any]]:
    alarms = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["MetricName"] == metric
    ]
    assert all(alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] for alarm in alarms)
    return alarms


def _alarm(metric: str) -> dict[str, Any]:
    (alarm,) = _alarms(metric)
    return alarm


def test_alarms_reach_the_topic():
    assert _alarm("ApproximateNumberOfMessagesVisible")["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["IngestDeadLetterQueue", "QueueName"]
    }
    failed = [alarm["Dimensions"][0]["Value"] for alarm in _alarms("ExecutionsFailed")]
    assert failed == [{"Ref": "PipelineStateMachine"}, {"Ref": "UpkeepStateMachine"}]  # each state machine's
    open_runs = _alarm("ApproximateOpenMapRunCount")
    assert (open_runs["Threshold"], open_runs["ComparisonOperator"]) == (900, "GreaterThanOrEqualToThreshold")
    for metric in ("Errors", "Throttles"):
        assert _alarm(metric)["Dimensions"][0]["Value"] == {"Ref": "ProcessorFunction"}
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Protocol"] == "email"


def test_the_dashboard_shows_runs_backlog_records_and_rejects():
    body = json.loads(Stack(TEMPLATE).resolve(RESOURCES["Dashboard"]["Properties"]["DashboardBody"]))
    metrics = {m[1] if m[0] != "." else m[1] for w in body["widgets"] for m in w["properties"]["metrics"]}
    assert {
        "ExecutionsStarted",
        "ExecutionsFailed",
        "ApproximateOpenMapRunCount",
        "RunRecords",
        "RunRecordsRejected",
    } <= metrics


def test_the_kinesis_source_is_optional_and_switches_firehose_to_it():
    assert RESOURCES["SourceStream"]["Condition"] == "UseKinesisStream"
    for flag, kind in (("false", "DirectPut"), ("true", "KinesisStreamAsSource")):
        props = Stack(TEMPLATE, parameter_overrides={"UseKinesisStream": flag}).resolve(
            RESOURCES["DeliveryStream"]["Properties"]
        )
        assert props["DeliveryStreamType"] == kind
        assert ("KinesisStreamSourceConfiguration" in props) == (flag == "true")
        assert ("DeliveryStreamEncryptionConfigurationInput" in props) == (flag == "false")


def test_the_event_source_mapping_is_bounded_and_reports_partial_failures():
    (event,) = RESOURCES["ManifestWriterFunction"]["Properties"]["Events"].values()
    props = event["Properties"]
    assert props["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "IngestMaximumConcurrency"}}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_working_files_quarantine_and_reports_expire():
    rules = {
        r["Prefix"]: r
        for r in RESOURCES["PipelineBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        if "Prefix" in r
    }
    assert set(rules) >= {
        MANIFESTS_PREFIX,
        RESULTS_PREFIX,
        SUMMARIES_PREFIX,
        QUARANTINE_PREFIX,
        REPORTS_PREFIX,
        QUERY_RESULTS_PREFIX,
    }
    assert CURATED_PREFIX not in rules  # the product is kept


@pytest.mark.parametrize("key", ["", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
def test_query_results_stay_in_the_pipeline_bucket_encrypted_and_scans_are_capped(key):
    stack = Stack(TEMPLATE, parameter_overrides={"KmsKeyArn": key})
    configuration = stack.resolve(RESOURCES["QueryWorkGroup"]["Properties"])["WorkGroupConfiguration"]
    results = configuration["ResultConfiguration"]
    assert results["OutputLocation"] == f"s3://{stack.physical_name('PipelineBucket')}/{QUERY_RESULTS_PREFIX}"
    expected = {"EncryptionOption": "SSE_KMS", "KmsKey": key} if key else {"EncryptionOption": "SSE_S3"}
    assert results["EncryptionConfiguration"] == expected
    assert configuration["EnforceWorkGroupConfiguration"] is True  # no query writes its results elsewhere
    assert int(configuration["BytesScannedCutoffPerQuery"]) == TEMPLATE["Parameters"]["QueryScanLimitBytes"]["Default"]


def test_the_catalog_function_may_change_tables_of_its_own_database_only(transformed):
    deployed = transformed["Resources"]
    own = {"CatalogRole"} | {
        name
        for name, r in deployed.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": "CatalogRole"} in r["Properties"]["Roles"]
    }
    statements = [s for name, s in _iam_statements(deployed) if name in own]
    glue = [s for s in statements if any(a.startswith("glue:") for a in _as_list(s["Action"]))]
    (statement,) = glue
    assert set(statement["Action"]) == {
        "glue:GetTable",
        "glue:GetTables",
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:DeleteTable",
    }
    resources = [json.dumps(r) for r in statement["Resource"]]
    # the folded name (tests/infra/test_template.py resolves it for a stack named in mixed case)
    assert len(resources) == 3 and all("${CatalogName.Database}" in r for r in resources[1:])
    # it reads no data: only the Iceberg table's metadata, which it creates and evolves
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    assert [(set(s["Action"]), s["Resource"]) for s in s3] == [
        ({"s3:GetObject", "s3:PutObject"}, {"Fn::Sub": "${PipelineBucket.Arn}/curated/*/metadata/*"})
    ]
    deleters = {n: s["Resource"] for n, s in _iam_statements(deployed) if "s3:DeleteObject" in _as_list(s["Action"])}
    curated = {"Fn::Sub": "${PipelineBucket.Arn}/curated/*"}
    assert deleters == {"ProcessorRole": curated, "UpkeepRole": curated}  # a failed batch's files; upkeep's sweep


def test_the_reducer_commits_to_its_own_database_and_writes_only_table_metadata(transformed):
    """The run's Iceberg commit: a new metadata file, then the table's entry swapped; no data file."""
    statements = [s for name, s in _iam_statements(transformed["Resources"]) if name == "ReducerRole"]
    (glue,) = [s for s in statements if any(a.startswith("glue:") for a in _as_list(s["Action"]))]
    assert set(glue["Action"]) == {"glue:GetTable", "glue:UpdateTable"}
    assert all("${CatalogName.Database}" in json.dumps(r) for r in glue["Resource"][1:])
    metadata = {"Fn::Sub": "${PipelineBucket.Arn}/curated/*/metadata/*"}
    puts = [s for s in statements if "s3:PutObject" in _as_list(s["Action"])]
    assert any(s["Resource"] == metadata for s in puts)
    assert not any("curated" in json.dumps(s["Resource"]) and s["Resource"] != metadata for s in statements)
    (listing,) = [s for s in statements if "s3:ListBucket" in _as_list(s["Action"])]
    # its runs' results, its data files (those a crash left), the trailing runs' quality records; no metadata
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["results/*", "curated/*/data/*", "quality/*"]}}


def test_the_upkeep_keeps_its_own_table_and_writes_only_its_runs_files(transformed):
    """Compaction rewrites and the sweep deletes under curated/ only; the rest is its plan, its map's
    results and the reports (it reads the runs' to know which may still commit); Glue: its database."""
    statements = [s for name, s in _iam_statements(transformed["Resources"]) if name == "UpkeepRole"]
    (glue,) = [s for s in statements if any(a.startswith("glue:") for a in _as_list(s["Action"]))]
    assert set(glue["Action"]) == {"glue:GetTable", "glue:UpdateTable"}
    assert all("${CatalogName.Database}" in json.dumps(r) for r in glue["Resource"][1:])
    s3 = {
        json.dumps(resource): set(_as_list(s["Action"]))
        for s in statements
        if any(a.startswith("s3:") for a in _as_list(s["Action"]))
        for resource in _as_list(s["Resource"])
    }
    bucket = "${PipelineBucket.Arn}"
    assert s3 == {
        json.dumps({"Fn::Sub": f"{bucket}/curated/*"}): {
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
        },
        json.dumps({"Fn::GetAtt": ["PipelineBucket", "Arn"]}): {"s3:ListBucket"},
        **{
            json.dumps({"Fn::Sub": f"{bucket}/{p}/*"}): {"s3:GetObject", "s3:PutObject"}
            for p in ("manifests/upkeep", "results", "reports")
        },
    }
