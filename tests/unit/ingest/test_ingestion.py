"""The manifest writer's work on each sample event shape."""

import json

import pytest

from landfall.core.layout import manifest_key
from landfall.core.observability import metrics
from landfall.core.settings import parse_settings
from landfall.ingest import ingestion
from landfall.ingest.messages import NotificationEvent
from landfall.ingest.settings import ManifestWriterSettings
from tests.conftest import load_event


def ingest(event: dict, **clients_and_settings) -> dict:
    """As the handler does: the event parsed into its model, the result dumped from its model."""
    return ingestion.ingest(NotificationEvent.model_validate(event), **clients_and_settings).model_dump(mode="json")


DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def env(s3, sfn):
    s3.create_bucket(Bucket="pipeline")
    arn = sfn.create_state_machine(name="p", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/r")
    settings = parse_settings(
        ManifestWriterSettings, {"STATE_MACHINE_ARN": arn["stateMachineArn"], "PIPELINE_BUCKET": "pipeline"}
    )
    return s3, sfn, settings


def manifest_objects(s3, response):
    key = manifest_key("notification", response["run_id"])
    lines = s3.get_object(Bucket="pipeline", Key=key)["Body"].read().splitlines()
    return [o for line in lines for o in json.loads(line)["objects"]]


def manifest_keys(s3, response):
    return [o["key"] for o in manifest_objects(s3, response)]


def test_an_sqs_batch_becomes_one_manifest_of_distinct_decoded_keys(env):
    s3, sfn, settings = env
    response = ingest(
        load_event("manifest_writer/sqs-s3-notifications.json"), s3_client=s3, sfn_client=sfn, settings=settings
    )
    assert response["batchItemFailures"] == []
    assert manifest_keys(s3, response) == sorted(
        [
            "raw/2026/11/22/13/a+b=c.gz",
            "raw/2026/11/22/13/café-日本語.gz",
            "raw/2026/11/22/13/landfall-demo-1-2026-11-22-13-05-00-5f0c7a1e-0b6d-4c1e-9a55-0c3f2d1b8e01.gz",
            "raw/2026/11/22/13/reports for Q4 (final).gz",
        ]
    )
    (execution,) = sfn.list_executions(stateMachineArn=settings.state_machine_arn)["executions"]
    assert execution["name"] == response["run_id"]


def test_a_malformed_message_fails_alone(env):
    s3, sfn, settings = env
    event = load_event("manifest_writer/sqs-malformed-message.json")
    response = ingest(event, s3_client=s3, sfn_client=sfn, settings=settings)
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][1]["messageId"]}]
    assert len(manifest_keys(s3, response)) == 1


def test_the_test_event_starts_nothing(env):
    s3, sfn, settings = env
    response = ingest(
        load_event("manifest_writer/sqs-test-event.json"), s3_client=s3, sfn_client=sfn, settings=settings
    )
    assert response == {"batchItemFailures": [], "run_id": None, "objects": 0, "dropped": {}}
    assert sfn.list_executions(stateMachineArn=settings.state_machine_arn)["executions"] == []


@pytest.mark.parametrize(
    "sample", ["manifest_writer/s3-direct.json", "manifest_writer/eventbridge-object-created.json"]
)
def test_direct_and_eventbridge_events_start_a_run(env, sample):
    s3, sfn, settings = env
    response = ingest(load_event(sample), s3_client=s3, sfn_client=sfn, settings=settings)
    assert "raw/2026/11/22/13/reports for Q4 (final).gz" in manifest_keys(s3, response)


def test_two_versions_of_one_key_are_two_objects_of_the_manifest(env):
    s3, sfn, settings = env
    response = ingest(load_event("manifest_writer/s3-versioned.json"), s3_client=s3, sfn_client=sfn, settings=settings)
    objects = manifest_objects(s3, response)
    assert len({o["key"] for o in objects}) == 1
    assert sorted(o["version_id"] for o in objects) == [
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        "Bd7zNnS4Xw9cW4dLq1kS7j8pYq2ZkQxB",
    ]


def test_a_redelivered_sqs_batch_starts_one_execution(env):
    """SQS delivers at least once: the same batch (or the same notifications in another order) again."""
    s3, sfn, settings = env
    event = load_event("manifest_writer/sqs-s3-notifications.json")
    first = ingest(event, s3_client=s3, sfn_client=sfn, settings=settings)
    again = ingest(event, s3_client=s3, sfn_client=sfn, settings=settings)
    reordered = ingest({"Records": event["Records"][::-1]}, s3_client=s3, sfn_client=sfn, settings=settings)
    assert first["run_id"] == again["run_id"] == reordered["run_id"]
    assert len(sfn.list_executions(stateMachineArn=settings.state_machine_arn)["executions"]) == 1


def test_an_empty_batch_starts_nothing(env):
    s3, sfn, settings = env
    assert ingest({"Records": []}, s3_client=s3, sfn_client=sfn, settings=settings)["run_id"] is None
    assert sfn.list_executions(stateMachineArn=settings.state_machine_arn)["executions"] == []


def test_keys_outside_the_prefix_and_suffix_start_nothing(env):
    s3, sfn, settings = env
    narrow = settings.model_copy(update={"key_prefix": "elsewhere/", "key_suffix": ".gz"})
    response = ingest(
        load_event("manifest_writer/sqs-s3-notifications.json"), s3_client=s3, sfn_client=sfn, settings=narrow
    )
    assert response["run_id"] is None


def test_runs_started_counts_a_redelivered_batch_as_no_new_run(env):
    s3, sfn, settings = env
    event = load_event("manifest_writer/sqs-s3-notifications.json")
    metrics.clear_metrics()
    ingest(event, s3_client=s3, sfn_client=sfn, settings=settings)
    ingest(event, s3_client=s3, sfn_client=sfn, settings=settings)
    assert metrics.metric_set["RunsStarted"]["Value"] == [1.0, 0.0]
    metrics.clear_metrics()
