import json

import pytest

from landfall.ingest.manifests import ConflictingRunError, RunStarter
from landfall.ingest.messages import ManifestItem, RunConfig

CONFIG = RunConfig(max_concurrency=1, max_items_per_batch=1, max_batch_bytes=1000, tolerated_failure_percentage=0)
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
    started = RunStarter(s3, sfn, arn, "pipeline", config).start_items(batch, "notification")
    return started.execution_input if started else None


def test_the_run_id_depends_on_the_objects_not_their_order(s3, sfn, machine):
    assert start(s3, sfn, machine, items("a", "b")).run_id == start(s3, sfn, machine, items("b", "a")).run_id
    assert start(s3, sfn, machine, items("a")).run_id != start(s3, sfn, machine, items("b")).run_id


def test_the_manifest_is_written_before_the_execution_starts(s3, sfn, machine):
    started = start(s3, sfn, machine, items("raw/b.gz", "raw/a.gz"))
    body = s3.get_object(Bucket="pipeline", Key=started.manifest.key)["Body"].read().decode().splitlines()
    assert [[o["key"] for o in json.loads(line)["objects"]] for line in body] == [["raw/a.gz"], ["raw/b.gz"]]
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == started.run_id
    execution_input = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert (execution_input["objects"], execution_input["batches"]) == (2, 2)


def test_a_redelivered_batch_starts_no_second_execution(s3, sfn, machine):
    starter = RunStarter(s3, sfn, machine, "pipeline", CONFIG)
    first, again = (
        starter.start_items(items("raw/a.gz"), "notification"),
        starter.start_items(items("raw/a.gz"), "notification"),
    )
    assert first.execution_input == again.execution_input and (first.new, again.new) == (True, False)
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_the_same_name_with_a_different_input_is_an_error(s3, sfn, machine):
    start(s3, sfn, machine, items("raw/a.gz"))
    other = CONFIG.model_copy(update={"max_concurrency": 9})
    with pytest.raises(ConflictingRunError):
        start(s3, sfn, machine, items("raw/a.gz"), config=other)


def test_an_empty_batch_starts_nothing(s3, sfn, machine):
    assert start(s3, sfn, machine, []) is None
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
