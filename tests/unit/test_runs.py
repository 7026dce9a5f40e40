import json

import pytest

from landfall.models import ManifestItem, RunConfig
from landfall.runs import ConflictingRunError, manifest_body, run_id_for, start_run

CONFIG = RunConfig(
    max_concurrency=1, max_items_per_batch=1, max_input_bytes_per_batch=1000, tolerated_failure_percentage=0
)
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def items(*keys):
    return [ManifestItem(bucket="landing", key=k, size=10) for k in keys]


@pytest.fixture
def machine(s3, sfn):
    s3.create_bucket(Bucket="pipeline")
    return sfn.create_state_machine(name="p", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/r")[
        "stateMachineArn"
    ]


def start(s3, sfn, arn, batch, config=CONFIG):
    return start_run(
        batch, "notification", s3_client=s3, sfn_client=sfn, state_machine_arn=arn, bucket="pipeline", config=config
    )


def test_the_run_id_depends_on_the_objects_not_their_order():
    assert run_id_for("notification", manifest_body(items("a", "b"))) == run_id_for(
        "notification", manifest_body(items("b", "a"))
    )
    assert run_id_for("notification", manifest_body(items("a"))) != run_id_for(
        "notification", manifest_body(items("b"))
    )


def test_the_manifest_is_written_before_the_execution_starts(s3, sfn, machine):
    started = start(s3, sfn, machine, items("raw/b.gz", "raw/a.gz"))
    body = s3.get_object(Bucket="pipeline", Key=started.manifest.key)["Body"].read().decode().splitlines()
    assert [json.loads(line)["key"] for line in body] == ["raw/a.gz", "raw/b.gz"]
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == started.run_id
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["objects"] == 2


def test_a_redelivered_batch_starts_no_second_execution(s3, sfn, machine):
    first = start(s3, sfn, machine, items("raw/a.gz"))
    again = start(s3, sfn, machine, items("raw/a.gz"))
    assert first == again
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_the_same_name_with_a_different_input_is_an_error(s3, sfn, machine):
    start(s3, sfn, machine, items("raw/a.gz"))
    other = CONFIG.model_copy(update={"max_concurrency": 9})
    with pytest.raises(ConflictingRunError):
        start(s3, sfn, machine, items("raw/a.gz"), config=other)


def test_an_empty_batch_starts_nothing(s3, sfn, machine):
    assert start(s3, sfn, machine, []) is None
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
