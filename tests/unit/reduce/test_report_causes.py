"""The report points at the cause: rejected lines counted by cause (their details without the lines' own
values), exactly across batches and within bounds; and failures a retry cannot fix are not redriven,
with what to do instead."""

import gzip
import json
from types import SimpleNamespace

import pytest

from landfall.ingest.messages import ManifestItem, RunConfig
from landfall.jobs import default_job
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.quarantine import OBJECT_CAUSES, cause_of
from landfall.process.settings import ProcessorSettings
from landfall.reduce import details
from landfall_cli.operate import nothing_to_redrive, redrive
from tests.unit.reduce.test_reduction import BUCKET, RUN, batch_output, record, redrive_objects
from tests.unit.reduce.test_report_contents import reduced, with_examples

NO_ID = b'{"ts":"2026-11-22T13:05:00Z","type":"click","value":1}'
MINUTES_ONLY = b'{"event_id":"e0","ts":"2026-11-22T13:05Z","type":"click","value":1}'
NO_ID_CAUSE = "Object missing required field `event_id`"
TS_CAUSE = "Invalid RFC3339 encoded datetime - at `$.ts`"
# thirteen ways to break the default job's schema, each a cause of its own
BROKEN = [
    b'{"ts":"2026-11-22T13:05:00Z","type":"click","value":1}',
    b'{"event_id":"e","type":"click","value":1}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","value":1}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"click"}',
    b'{"event_id":"e","ts":"2026-11-22T13:05Z","type":"click","value":1}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00","type":"click","value":1}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"clack","value":1}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"click","value":1e20}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"click","value":-1e20}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"click","value":"1"}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"click","value":1,"props":[1]}',
    b'{"event_id":7,"ts":"2026-11-22T13:05:00Z","type":"click","value":1}',
    b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"click","value":1,"user_id":7}',
]


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="landing")
    return s3


def processed(s3, objects: dict[str, bytes | None]) -> dict:
    """One batch of `objects` (None: not in the landing bucket) through the real processor: its output."""
    for key, body in objects.items():
        if body is not None:
            s3.put_object(Bucket="landing", Key=key, Body=body)
    items = [ManifestItem(bucket="landing", key=key, size=len(body or b"")) for key, body in objects.items()]
    event = ProcessorEvent(BatchInput=BatchInput(run_id=RUN, output_bucket=BUCKET), Items=items)
    return process_batch(event, s3, ProcessorSettings(), default_job()).model_dump(mode="json")


def gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"\n".join(lines))


@pytest.mark.parametrize(
    ("detail", "cause"),
    [
        (NO_ID_CAUSE, NO_ID_CAUSE),
        (TS_CAUSE, TS_CAUSE),
        ("Invalid enum value 'clack' - at `$.type`", "Invalid enum value '…' - at `$.type`"),
        ("JSON is malformed: invalid character (byte 23)", "JSON is malformed: invalid character (byte …)"),
        ("Expected `float` <= 1000000000000000.0 - at `$.value`", "Expected `float` <= … - at `$.value`"),
        ("Expected `str`, got `int` - at `$.tags[12]`", "Expected `str`, got `int` - at `$.tags[*]`"),
        ('KeyError: "user"', 'KeyError: "…"'),
        ("line is not valid UTF-8", "line is not valid UTF-8"),
        ("OverflowError: year 99999 is out of range", "OverflowError: year … is out of range"),
    ],
)
def test_a_cause_is_the_detail_without_the_lines_own_values(detail, cause):
    assert cause_of(detail) == cause


def test_the_most_frequent_cause_of_a_reason_comes_first_with_its_exact_count_and_an_example(bucket):
    """The bug: a lone minutes-only timestamp on line 1 was `schema`'s "first example", while 5,000
    lines after it lacked event_id."""
    output = processed(bucket, {"raw/a.gz": gz([MINUTES_ONLY] + [NO_ID] * 5000)})
    report, markdown = reduced(bucket, [record("SUCCEEDED", ["raw/a.gz"], output)], ["raw/a.gz"])
    (schema,) = report.rejections
    assert (schema.reason, schema.count, schema.other, schema.exact) == ("schema", 5001, 0, True)
    first, second = schema.details
    assert (first.detail, first.count, first.source, first.example.line) == (
        NO_ID_CAUSE,
        5000,
        "s3://landing/raw/a.gz",
        2,
    )
    assert first.example.raw == NO_ID.decode()
    assert (second.detail, second.count, second.example.line) == (TS_CAUSE, 1, 1)
    section = markdown[markdown.index("### schema: 5,001 lines") :]
    top = section.index("| 5,000 | Object missing required field 'event_id' |")
    assert top < section.index("| 1 | Invalid RFC3339")


def test_causes_are_counted_exactly_across_batches_and_values_do_not_split_them(bucket):
    enum = b'{"event_id":"e","ts":"2026-11-22T13:05:00Z","type":"%s","value":1}'
    batches = {
        "raw/1.gz": [NO_ID] * 30 + [MINUTES_ONLY] * 5 + [enum % b"clack"],
        "raw/2.gz": [MINUTES_ONLY] * 40 + [NO_ID] * 2 + [enum % b"clock"] * 2,
        "raw/3.gz": [NO_ID] * 7 + [enum % b"x"],
    }
    records = [record("SUCCEEDED", [key], processed(bucket, {key: gz(lines)})) for key, lines in batches.items()]
    report, _ = reduced(bucket, records, list(batches))
    (schema,) = report.rejections
    assert [(d.detail, d.count) for d in schema.details] == [
        (TS_CAUSE, 45),
        (NO_ID_CAUSE, 39),
        ("Invalid enum value '…' - at `$.type`", 4),
    ]
    assert (schema.count, schema.other, schema.exact) == (88, 0, True)
    # each example is the first line of its cause in the first object that had it
    assert [(d.source, d.example.line) for d in schema.details] == [
        ("s3://landing/raw/1.gz", 31),
        ("s3://landing/raw/1.gz", 1),
        ("s3://landing/raw/1.gz", 36),
    ]


def test_an_object_keeps_its_most_frequent_causes_and_the_rest_count_as_other(bucket):
    # cause n (of 13) on 14 - n lines, in 20 objects of one batch
    lines = [line for n, line in enumerate(BROKEN) for _ in range(len(BROKEN) - n)]
    keys = [f"raw/{n:02d}.gz" for n in range(20)]
    output = processed(bucket, dict.fromkeys(keys, gz(lines)))
    assert len(json.dumps(output)) <= ProcessorSettings().inline_summary_bytes  # the state's output: far below 256 KiB
    report, markdown = reduced(bucket, [record("SUCCEEDED", keys, output)], keys)
    kept = [json.loads(line)["rejection_details"]["schema"] for line in spilled_lines(bucket, output)]
    assert all(len(causes) == OBJECT_CAUSES for causes in kept)
    assert [c["count"] for c in kept[0]] == [13, 12, 11, 10, 9, 8, 7, 6]
    assert all(len(json.dumps(causes)) < 6 * 1024 for causes in kept)
    (schema,) = report.rejections
    assert schema.count == 20 * sum(range(1, 14)) and not schema.exact
    assert [d.count for d in schema.details] == [20 * n for n in (13, 12, 11, 10, 9)]
    assert sum(d.count for d in schema.details) + schema.other == schema.count
    assert f"| {schema.other:,} | other causes | |" in markdown
    assert "Counts may be low" in markdown


def spilled_lines(s3, output) -> list[bytes]:
    """The batch's object summaries: inline, or in S3 when they would make its output large."""
    if not output["objects_key"]:
        return [json.dumps(o).encode() for o in output["objects"]]
    return s3.get_object(Bucket=BUCKET, Key=output["objects_key"])["Body"].read().splitlines()


def test_the_run_tells_a_bounded_number_of_causes_apart_and_the_sum_stays_exact(bucket, monkeypatch):
    monkeypatch.setattr(details, "RUN_CAUSES", 3)
    objects = []
    for n in range(1, 7):
        each = with_examples(f"raw/{n}", 1, {"schema": n})
        each["rejection_details"]["schema"][0]["detail"] = f"cause {n}"
        objects.append(each)
    keys = [f"raw/{n}" for n in range(1, 7)]
    report, _ = reduced(bucket, [record("SUCCEEDED", keys, batch_output(*objects))], keys)
    (schema,) = report.rejections
    assert [(d.detail, d.count) for d in schema.details] == [("cause 3", 3), ("cause 2", 2), ("cause 1", 1)]
    assert (schema.count, schema.other, schema.exact) == (21, 15, False)


def test_a_corrupt_object_is_not_redriven_and_the_report_says_what_to_do_instead(bucket):
    corrupt = processed(bucket, {"raw/corrupt.gz": gzip.compress(b"x" * 1000)[:-10]})
    slow = record("FAILED", ["raw/slow.gz"], error="TransientError", cause="s3://landing/raw/slow.gz: SlowDown")
    records = [record("SUCCEEDED", ["raw/corrupt.gz"], corrupt), slow]
    report, markdown = reduced(bucket, records, ["raw/corrupt.gz", "raw/slow.gz"], redrive_with="--stack prod")
    assert report.reconciliation.ok and report.status == "FAILED"  # 2 of 2 failed, above the tolerated 50 %
    objects = report.objects
    assert (objects.processed, objects.failed, objects.failed_for_good, objects.pending) == (0, 2, 1, 0)
    assert redrive_objects(bucket, report) == [("raw/slow.gz", None)]
    assert {(f.key, f.cause, f.retryable) for f in report.failures} == {
        ("raw/corrupt.gz", "corrupt", False),
        ("raw/slow.gz", None, True),
    }
    (cause,) = report.failure_causes
    assert (cause.cause, cause.objects, cause.retryable) == ("corrupt", 1, False)
    assert "write a good copy at the source" in cause.advice
    assert ".venv/bin/landfall backfill --prefix <its key> --stack prod" in cause.advice
    assert "- **corrupt object** (1 object, not redriven: a retry cannot fix it): its bytes do not decode" in markdown
    assert "`s3://landing/raw/corrupt.gz` (object, corrupt, not redriven): truncated gzip stream" in markdown
    assert f"Run the others (a retry can fix them) again: `.venv/bin/landfall redrive {RUN} --stack prod`" in markdown
    assert any("1 object failed for good" in w for w in report.warnings), report.warnings
    plan, started = redrive(cli_target(bucket), RUN, dry_run=True)
    assert (plan.objects, started) == (1, None)


def test_a_run_whose_failures_no_retry_can_fix_has_nothing_to_redrive_and_says_why(bucket):
    output = processed(
        bucket,
        {
            "raw/bad.gz": gzip.compress(b"x" * 1000)[:-10],
            "raw/gone.gz": None,
            "raw/data.zst": b"\x28\xb5\x2f\xfd" + bytes(range(256)) * 8,
        },
    )
    keys = ["raw/bad.gz", "raw/data.zst", "raw/gone.gz"]
    report, markdown = reduced(bucket, [record("SUCCEEDED", keys, output)], keys)
    assert report.reconciliation.ok and (report.objects.failed, report.objects.failed_for_good) == (3, 3)
    assert [(c.cause, c.objects) for c in report.failure_causes] == [("corrupt", 1), ("missing", 1), ("unsupported", 1)]
    assert report.outputs.redrive_manifest_key is None and report.redrive_command is None
    assert "Nothing to redrive: a retry cannot fix any of them" in markdown
    assert not any("redrive command" in w for w in report.warnings), report.warnings
    plan, _ = redrive(cli_target(bucket), RUN)
    assert plan.objects == 0
    assert nothing_to_redrive(RUN, report) == (
        f"{RUN} has nothing to redrive: its 3 failed objects cannot succeed on a retry (1 corrupt object, "
        f"1 object gone, 1 unsupported format); `landfall report {RUN}` says what to do instead"
    )


def cli_target(s3):
    """What `landfall redrive` reads of a deployment: its S3 client, pipeline bucket and run settings."""
    config = RunConfig(max_concurrency=1, max_items_per_batch=2, max_batch_bytes=1000, tolerated_failure_percentage=0)
    return SimpleNamespace(s3=s3, pipeline_bucket=BUCKET, config=config, starter=lambda: None)
