"""What report.md and report.json tell someone acting on a run, and the timeline drawn beside them."""

import json
import re

import pytest

from landfall.commit.commits import Commit
from landfall.commit.objects import TableMissing
from landfall.core.layout import object_digest, report_key
from landfall.jobs import default_job
from landfall.reduce.messages import RunReport
from landfall.reduce.reduction import reduce_run
from landfall.reduce.report_text import render_markdown
from tests.unit.reduce.test_reduction import BUCKET, RUN, batch_output, put_results, record, reducer_event, summary


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket=BUCKET)
    return s3


def with_examples(key, valid, rejected_by_reason):
    """A processed object's summary whose rejected lines have reasons, each of one cause with an example."""
    rejected = sum(rejected_by_reason.values())
    each = summary(key, valid=valid, rejected=rejected)
    each["rejected_by_reason"] = rejected_by_reason
    each["rejection_details"] = {
        reason: [
            {
                "detail": f"{reason} detail",
                "count": count,
                "example": {"line": 7, "detail": f"{reason} detail of {key}", "raw": f'{{"bad": "{reason}"}}'},
            }
        ]
        for reason, count in rejected_by_reason.items()
    }
    if rejected:
        each["quarantine_key"] = f"quarantine/{RUN}/{key.rsplit('/', 1)[-1]}.jsonl"
    return each


def timed(status, keys, output, start, stop, **fields):
    """A result record whose child ran from `start` to `stop` seconds after 13:05:00."""
    base = record(status, keys, output, **fields)
    base["StartDate"] = f"2026-11-22T13:05:{start:06.3f}Z"
    base["StopDate"] = f"2026-11-22T13:05:{stop:06.3f}Z"
    return base


def reduced(s3, records, keys, **kwargs):
    put_results(
        s3,
        {
            "SUCCEEDED": [([r for r in records if r["Status"] == "SUCCEEDED"], "JSONL")],
            "FAILED": [([r for r in records if r["Status"] == "FAILED"], "JSONL")],
        },
    )
    report = reduce_run(reducer_event(s3, keys, tolerance=50.0), s3, default_job(), **kwargs)
    markdown = s3.get_object(Bucket=BUCKET, Key=report_key(RUN, "report.md"))["Body"].read().decode()
    return report, markdown


def test_rejections_are_listed_by_reason_with_their_causes_counted_and_an_example_of_each(bucket):
    a = with_examples("raw/a", 10, {"schema": 3, "json": 1})
    b = with_examples("raw/b", 10, {"schema": 2})
    report, markdown = reduced(
        bucket, [record("SUCCEEDED", ["raw/a", "raw/b"], batch_output(a, b))], ["raw/a", "raw/b"]
    )
    assert [(r.reason, r.count) for r in report.rejections] == [("schema", 5), ("json", 1)]
    (cause,) = report.rejections[0].details
    assert (cause.detail, cause.count, cause.source) == ("schema detail", 5, "s3://landing/raw/a")
    assert cause.example.detail == "schema detail of raw/a" and report.rejections[0].other == 0
    assert "## Rejected lines by reason" in markdown and "### schema: 5 lines" in markdown
    assert '| 5 | schema detail | `s3://landing/raw/a` line 7 (schema detail of raw/a): `{"bad": "schema"}` |' in (
        markdown
    )
    assert '{"bad": "json"}' in markdown


def test_the_objects_with_most_rejections_rows_per_partition_settings_and_times(bucket):
    objects = [with_examples(f"raw/{n}", 10, {"schema": n}) for n in range(1, 5)]
    report, markdown = reduced(
        bucket,
        [record("SUCCEEDED", [f"raw/{n}" for n in range(1, 5)], batch_output(*objects))],
        [f"raw/{n}" for n in range(1, 5)],
    )
    assert [o.url for o in report.worst_objects][:2] == ["s3://landing/raw/4", "s3://landing/raw/3"]
    assert report.rows_by_partition == {"dt=2026-11-22/hour=13": 40}
    assert report.settings.max_items_per_batch == 2 and report.job == "events"
    assert report.timing.started_at <= report.timing.ended_at and report.timing.seconds >= 0
    for heading in (
        "## Objects with the most rejected lines",
        "## Rows written per partition",
        "Started ",
        "Job `events`; batches of up to 2 objects",
        "## Where the output is",
        "Estimated AWS cost",
    ):
        assert heading in markdown, heading
    # the job's own tables: the default job's events per type and per hour
    assert [t.title for t in report.aggregate_tables] and all(t.title in markdown for t in report.aggregate_tables)


def test_failures_come_with_their_reasons_and_the_exact_redrive_command(bucket):
    good = with_examples("raw/good", 5, {})
    failed = summary("raw/bad", status="failed", error="truncated gzip stream")
    report, markdown = reduced(
        bucket,
        [record("SUCCEEDED", ["raw/bad", "raw/good"], batch_output(failed, good))],
        ["raw/bad", "raw/good"],
        redrive_with="--stack prod-landfall",
    )
    assert [(f.url, f.error) for f in report.failures] == [("s3://landing/raw/bad", "truncated gzip stream")]
    assert report.redrive_command == f".venv/bin/landfall redrive {RUN} --stack prod-landfall"
    assert f"Run them again: `.venv/bin/landfall redrive {RUN} --stack prod-landfall`" in markdown
    assert f"s3://{BUCKET}/{report.outputs.redrive_manifest_key}" in markdown


def test_each_source_object_maps_to_its_partitions_and_quarantine(bucket):
    a = with_examples("raw/a", 4, {"schema": 1})
    report, _ = reduced(bucket, [record("SUCCEEDED", ["raw/a"], batch_output(a))], ["raw/a"])
    lines = bucket.get_object(Bucket=BUCKET, Key=report.outputs.objects_key)["Body"].read().splitlines()
    (entry,) = [json.loads(line) for line in lines]
    assert entry["url"] == "s3://landing/raw/a" and entry["status"] == "processed"
    assert entry["partitions"] == ["dt=2026-11-22/hour=13"]  # its rows are in its batch's files of these
    assert entry["quarantine"] == f"quarantine/{RUN}/a.jsonl"


def test_an_object_whose_every_line_was_rejected_and_a_high_rejection_rate_are_warned(bucket):
    junk = with_examples("raw/junk.pdf", 0, {"json": 2})
    fine = with_examples("raw/fine", 8, {})
    report, markdown = reduced(
        bucket,
        [record("SUCCEEDED", ["raw/fine", "raw/junk.pdf"], batch_output(fine, junk))],
        ["raw/fine", "raw/junk.pdf"],
    )
    assert report.status == "SUCCEEDED"  # the counts reconcile: the warnings say what to look at
    assert any("s3://landing/raw/junk.pdf" in w and "every" in w for w in report.warnings), report.warnings
    assert any("20.0 %" in w and "5 %" in w for w in report.warnings), report.warnings
    assert "## Warnings" in markdown and "⚠" in markdown


def test_a_clean_run_has_no_warnings(bucket):
    report, markdown = reduced(
        bucket, [record("SUCCEEDED", ["raw/a"], batch_output(with_examples("raw/a", 9, {})))], ["raw/a"]
    )
    assert report.warnings == [] and "## Warnings" not in markdown


def test_the_timeline_is_drawn_from_the_runs_own_result_files(bucket):
    """Three children: two overlap (0-4 s and 1-3 s), the third (5-6 s) failed."""
    a, b = with_examples("raw/a", 3, {}), with_examples("raw/b", 3, {})
    records = [
        timed("SUCCEEDED", ["raw/a"], batch_output(a), 0, 4),
        timed("SUCCEEDED", ["raw/b"], batch_output(b), 1, 3),
        timed("FAILED", ["raw/c"], None, 5, 6, error="Lambda.Unknown", cause="out of memory"),
    ]
    report, markdown = reduced(bucket, records, ["raw/a", "raw/b", "raw/c"])
    svg = bucket.get_object(Bucket=BUCKET, Key=report.outputs.timeline_key)["Body"].read().decode()
    assert svg.startswith("<svg") and svg.count('class="failed"') == 1
    assert re.search(r'class="peak"[^>]*>2<', svg)  # at most two ran at once
    assert "3 children, at most 2 at once" in svg
    assert "![the map run's children over time](timeline.svg)" in markdown


def test_another_job_describes_its_own_aggregates_for_the_report():
    from examples.orders_job import OrdersJob

    job = OrdersJob()
    aggregate = job.merge(job.new_aggregate(), {"revenue": {"EUR": 10.5}, "orders_per_day": {"2026-11-22": 3}})
    tables = job.describe(aggregate)
    assert [t.title for t in tables] == ["Revenue per currency", "Orders per UTC day"]
    assert tables[0].rows == [["EUR", 10.5]] and tables[1].rows == [["2026-11-22", 3]]
    report = RunReport.model_validate_json(
        json.dumps(
            {
                "run_id": RUN,
                "status": "SUCCEEDED",
                "objects": {},
                "records": {},
                "reconciliation": {"ok": True},
                "outputs": {"bucket": BUCKET, "curated_prefix": "c/", "quarantine_prefix": "q/", "report_key": "r"},
            }
        )
    )
    report.aggregate_tables = tables
    assert "## Revenue per currency" in render_markdown(report) and "| EUR | 10.50 |" in render_markdown(report)


class _Committer:
    """Stands for the table stage: records what it is asked to commit; `missing` plays a table not there."""

    def __init__(self, missing: bool = False, deferred: frozenset[int] = frozenset()) -> None:
        self.calls: list[tuple[str, list, str]] = []
        self.missing, self.deferred = missing, deferred

    def __call__(self, run_id, files, bucket):
        self.calls.append((run_id, list(files), bucket))
        if self.missing:
            raise TableMissing("no table db.events in the Glue catalog")
        rows = sum(f.rows for f in files)
        return Commit(
            7,
            "s3://b/m.metadata.json",
            len(files),
            rows,
            2,
            duplicates=frozenset({1}),
            deferred=self.deferred,
            left_out=("k",),
        )


def test_a_reconciled_run_commits_its_files_once_and_the_report_says_what_it_added(bucket):
    a, b = with_examples("raw/a", 10, {}), with_examples("raw/b", 5, {})
    committer = _Committer()
    report, markdown = reduced(
        bucket, [record("SUCCEEDED", ["raw/a", "raw/b"], batch_output(a, b))], ["raw/a", "raw/b"], committer=committer
    )
    ((run_id, files, where),) = committer.calls
    assert (run_id, where) == (RUN, BUCKET) and sum(f.rows for f in files) == 15
    assert {d for f in files for d in f.objects} == {
        object_digest("landing", "raw/a"),
        object_digest("landing", "raw/b"),
    }
    table = report.table
    assert (table.snapshot_id, table.rows, table.attempts, table.duplicate_objects, table.left_out_files) == (
        7,
        15,
        2,
        1,
        ["k"],
    )
    assert "snapshot 7:" in markdown and "1 objects the table held already were not added again" in markdown


def test_a_run_that_is_not_reconciled_commits_nothing(bucket):
    committer = _Committer()
    report, markdown = reduced(
        bucket,
        [record("SUCCEEDED", ["raw/a"], batch_output(with_examples("raw/a", 3, {})))],
        ["raw/a", "raw/lost"],
        committer=committer,
    )
    assert not report.reconciliation.ok and committer.calls == []
    assert report.table.skipped == "the run is not reconciled: nothing committed" and "not committed" in markdown


def test_a_missing_table_leaves_the_files_uncommitted_and_says_so(bucket):
    report, _ = reduced(
        bucket,
        [record("SUCCEEDED", ["raw/a"], batch_output(with_examples("raw/a", 3, {})))],
        ["raw/a"],
        committer=_Committer(missing=True),
    )
    assert report.table.skipped == "no table db.events in the Glue catalog" and report.table.snapshot_id is None
    assert any("were not committed" in warning for warning in report.warnings)


def test_objects_left_out_beside_duplicates_go_into_the_redrive_manifest(bucket):
    a, b = with_examples("raw/a", 10, {}), with_examples("raw/b", 5, {})
    committer = _Committer(deferred=frozenset({object_digest("landing", "raw/b")}))
    report, _ = reduced(
        bucket, [record("SUCCEEDED", ["raw/a", "raw/b"], batch_output(a, b))], ["raw/a", "raw/b"], committer=committer
    )
    key = report.outputs.redrive_manifest_key
    redrive = [json.loads(line) for line in bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()]
    assert [o["key"] for line in redrive for o in line["objects"]] == ["raw/b"]
    assert report.redrive_command == f".venv/bin/landfall redrive {RUN} --stack STACK"
    assert any("the redrive manifest has them" in warning for warning in report.warnings)
