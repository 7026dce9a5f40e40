import gzip
import json
import os
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from landfall.core.layout import CURATED_PREFIX, curated_key, object_url, summary_prefix
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.jobs.events import EventsJob
from landfall.process.curated import Budget, ObjectRows, _SpillDir
from landfall.process.failures import CLEAN_FAILURES, BatchFailed
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import TransientError, batch_id, process_batch
from landfall.process.settings import ProcessorSettings
from tests.tables import parquet_rows

GOOD = b'{"event_id":"e%d","ts":"2026-11-22T1%d:00:00Z","type":"click","value":%d}'
HOUR_12, HOUR_13 = "dt=2026-11-22/hour=12", "dt=2026-11-22/hour=13"


@pytest.fixture
def buckets(s3):
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    return s3


def event(*keys):
    return ProcessorEvent(
        BatchInput=BatchInput(run_id="run-1", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key=k, size=1) for k in keys],
    )


@pytest.fixture(params=["inline", "read-ahead", "large, threads off"])
def settings(request) -> ProcessorSettings:
    """Every way of reading: small objects inline, large ones fetched and inflated on a second thread,
    or inline too when LARGE_OBJECT_THREADS is off."""
    if request.param == "large, threads off":
        return ProcessorSettings(SMALL_OBJECT_BYTES=0, LARGE_OBJECT_THREADS="off")
    return ProcessorSettings(SMALL_OBJECT_BYTES=1 << 20 if request.param == "inline" else 0)


def run(s3, settings, *keys):
    return process_batch(event(*keys), s3, settings, default_job())


def test_valid_records_go_to_parquet_partitions_with_their_lineage_and_bad_lines_to_quarantine(buckets, settings):
    lines = [GOOD % (1, 2, 1), GOOD % (2, 3, 2), b"{broken", GOOD % (3, 2, 3)]
    buckets.put_object(Bucket="landing", Key="raw/a.gz", Body=gzip.compress(b"\n".join(lines)))
    batch = run(buckets, settings, "raw/a.gz")
    (summary,) = batch.objects
    assert (summary.status, summary.records, summary.valid, summary.rejected) == ("processed", 4, 3, 1)
    assert summary.rows_by_partition == {HOUR_12: 2, HOUR_13: 1}
    identity = batch_id([object_url("landing", "raw/a.gz")])  # the batch's items
    assert [(f.key, f.rows, f.partition) for f in batch.files] == [
        (curated_key("events", "run-1", HOUR_12, identity), 2, HOUR_12),
        (curated_key("events", "run-1", HOUR_13, identity), 1, HOUR_13),
    ]
    hour12 = parquet_rows(buckets, "pipeline", [batch.files[0].key])
    assert [(r["event_id"], r["ts"], r["value"], r["source_key"], r["source_line"]) for r in hour12] == [
        ("e1", datetime(2026, 11, 22, 12, tzinfo=UTC), 1.0, "raw/a.gz", 1),
        ("e3", datetime(2026, 11, 22, 12, tzinfo=UTC), 3.0, "raw/a.gz", 4),
    ]
    assert {r["source_bucket"] for r in hour12} == {"landing"} and {r["source_version_id"] for r in hour12} == {None}
    assert (summary.s3_gets, summary.s3_puts, batch.s3_puts) == (1, 1, 2)  # the quarantine; the batch's two files
    quarantined = buckets.get_object(Bucket="pipeline", Key=summary.quarantine_key)["Body"].read().splitlines()
    entry = json.loads(quarantined[0])
    assert (entry["source_key"], entry["line"], entry["reason"], entry["raw"]) == (
        "raw/a.gz",
        3,
        "invalid_json",
        "{broken",
    )


def test_a_batch_processed_again_overwrites_its_files_instead_of_duplicating(buckets, settings):
    buckets.put_object(Bucket="landing", Key="raw/a.gz", Body=gzip.compress(GOOD % (1, 2, 1)))
    first = run(buckets, settings, "raw/a.gz")
    second = run(buckets, settings, "raw/a.gz")
    assert first.files == second.files
    listed = buckets.list_objects_v2(Bucket="pipeline", Prefix=CURATED_PREFIX)["KeyCount"]
    assert listed == 1
    assert len(parquet_rows(buckets, "pipeline", [first.files[0].key])) == 1


def test_permanent_problems_fail_the_object_not_the_batch(buckets, settings):
    buckets.put_object(Bucket="landing", Key="raw/ok.gz", Body=gzip.compress(GOOD % (1, 2, 1)))
    buckets.put_object(Bucket="landing", Key="raw/corrupt.gz", Body=gzip.compress(b"x" * 1000)[:-10])
    summary = run(buckets, settings, "raw/missing.gz", "raw/corrupt.gz", "raw/ok.gz")
    statuses = [(o.key, o.status) for o in summary.objects]
    assert statuses == [("raw/missing.gz", "failed"), ("raw/corrupt.gz", "failed"), ("raw/ok.gz", "processed")]
    assert "NoSuchKey" in summary.objects[0].error
    assert "truncated" in summary.objects[1].error


def test_an_unreadable_bucket_raises_so_step_functions_sees_the_failure(buckets):
    bad = ProcessorEvent(
        BatchInput=BatchInput(run_id="run-1", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="no-such-bucket", key="raw/a.gz", size=1)],
    )
    with pytest.raises(Exception, match="NoSuchBucket"):
        process_batch(bad, buckets, ProcessorSettings(), default_job())


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("Whatever", 502)])
def test_transient_s3_errors_raise_for_step_functions_to_retry(buckets, settings, monkeypatch, code, status):
    buckets.put_object(Bucket="landing", Key="raw/a.gz", Body=gzip.compress(GOOD % (1, 2, 1)))

    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")

    monkeypatch.setattr(buckets, "get_object", throttled)
    with pytest.raises(TransientError, match=code):
        run(buckets, settings, "raw/a.gz")


def test_an_object_without_record_delimiters_is_split_and_reported(buckets, settings):
    records = [GOOD % (n, 2, n) for n in range(30)] + [
        b'{"event_id":"s","ts":"2026-11-22T12:00:00Z","type":"click","value":1,"props":{"q":"}{"}}'
    ]
    buckets.put_object(Bucket="landing", Key="raw/undelimited.gz", Body=gzip.compress(b"".join(records)))
    batch = run(buckets, settings, "raw/undelimited.gz")
    (summary,) = batch.objects
    assert (summary.framing, summary.valid, summary.rejected) == ("concatenated", 31, 0)
    rows = parquet_rows(buckets, "pipeline", [batch.files[0].key])
    assert [r["event_id"] for r in rows] == [f"e{n}" for n in range(30)] + ["s"]
    assert rows[-1]["props"] == '{"q":"}{"}'  # the JSON text as it came


def test_a_line_over_the_limit_is_quarantined_cut(buckets, settings):
    long_line = b'{"event_id":"' + b"x" * 5000 + b'"}'
    body = GOOD % (1, 2, 1) + b"\n" + long_line + b"\n" + GOOD % (2, 2, 2) + b"\n"
    buckets.put_object(Bucket="landing", Key="raw/long.gz", Body=gzip.compress(body))
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="run-1", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key="raw/long.gz", size=1)],
    )
    (summary,) = process_batch(
        event, buckets, settings.model_copy(update={"max_line_bytes": 1024}), default_job()
    ).objects
    assert (summary.valid, summary.rejected, summary.rejected_by_reason) == (2, 1, {"line_too_long": 1})
    entry = json.loads(buckets.get_object(Bucket="pipeline", Key=summary.quarantine_key)["Body"].read())
    assert (entry["line"], entry["raw_truncated"], len(entry["raw"])) == (2, True, 1024)


def test_a_large_batch_summary_is_kept_in_s3_and_the_output_stays_small(buckets, settings):
    keys = [f"raw/{n:04d}-{'k' * 100}.gz" for n in range(400)]
    for key in keys:
        buckets.put_object(Bucket="landing", Key=key, Body=gzip.compress(GOOD % (1, 2, 1)))
    summary = run(buckets, settings, *keys)
    assert len(summary.model_dump_json()) < 16 * 1024
    assert summary.objects == [] and summary.objects_key.startswith(summary_prefix("run-1"))
    spilled = buckets.get_object(Bucket="pipeline", Key=summary.objects_key)["Body"].read().splitlines()
    assert [json.loads(line)["key"] for line in spilled] == keys
    assert summary.aggregates["by_type"]["click"]["count"] == 400


def test_objects_of_a_batch_keep_their_order_whatever_their_size(buckets):
    sizes = {"raw/big.gz": 10 << 20, "raw/s1.gz": 10, "raw/s2.gz": 10}
    for key in sizes:
        buckets.put_object(Bucket="landing", Key=key, Body=gzip.compress(GOOD % (1, 2, 1)))
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="run-1", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key=k, size=s) for k, s in sizes.items()],
    )
    summary = process_batch(event, buckets, ProcessorSettings(), default_job())
    assert [o.key for o in summary.objects] == list(sizes)


def test_a_failed_object_leaves_no_partial_output_even_after_multipart_parts(buckets, settings):
    noise = [
        b'{"event_id":"%s","ts":"2026-11-22T12:00:00Z","type":"click","value":1}' % os.urandom(40).hex().encode()
        for _ in range(120_000)
    ]
    body = gzip.compress(b"\n".join(noise) + b"\n", compresslevel=1)
    buckets.put_object(Bucket="landing", Key="raw/cut.gz", Body=body[:-8])  # the trailer is missing
    (summary,) = run(buckets, settings, "raw/cut.gz").objects
    assert summary.status == "failed" and "truncated" in summary.error
    assert buckets.list_objects_v2(Bucket="pipeline", Prefix=CURATED_PREFIX)["KeyCount"] == 0
    assert buckets.list_multipart_uploads(Bucket="pipeline").get("Uploads", []) == []


def request_handlers(client) -> int:
    """How many handlers every S3 GET of this client runs when its request is created."""
    request = AWSRequest(method="GET", url="https://landing.s3.amazonaws.com/k", headers={"User-Agent": "x"})
    return len(client.meta.events.emit("request-created.s3.GetObject", request=request, operation_name="GetObject"))


def test_reading_objects_leaves_nothing_behind_on_the_warm_client(buckets, settings):
    # the processor's client lives as long as the execution environment: a handler left on it per
    # object read would make every later request slower, without end
    for key in ("raw/a.gz", "raw/b.gz"):
        buckets.put_object(Bucket="landing", Key=key, Body=gzip.compress(GOOD % (1, 2, 1)))
    run(buckets, settings, "raw/a.gz")
    before = request_handlers(buckets)
    for _ in range(20):  # two objects (a batch never holds one object twice): fetched concurrently
        run(buckets, settings, "raw/a.gz", "raw/b.gz")
    assert request_handlers(buckets) == before


def test_fields_the_record_type_does_not_declare_stay_in_the_raw_object_only(buckets, settings):
    line = b'{"event_id":"x","ts":"2026-11-22T12:00:00Z","type":"click","value":1,"campaign":"c-7","n":{"deep":1}}'
    buckets.put_object(Bucket="landing", Key="raw/extra.gz", Body=gzip.compress(line))
    batch = run(buckets, settings, "raw/extra.gz")
    (summary,) = batch.objects
    assert (summary.valid, summary.rejected) == (1, 0)  # an unknown field is no reason to reject a record
    (row,) = parquet_rows(buckets, "pipeline", [batch.files[0].key])
    assert "campaign" not in row and "n" not in row and row["event_id"] == "x"
    assert b'"campaign":"c-7"' in gzip.decompress(
        buckets.get_object(Bucket="landing", Key="raw/extra.gz")["Body"].read()
    )


class MergeBugJob(EventsJob):
    """A job whose merge fails on the aggregate of an `error` event: not a record's fault, a bug."""

    def merge(self, left, right):
        if "error" in right.get("by_type", {}):
            raise ZeroDivisionError("the job's merge")
        return super().merge(left, right)


def test_a_failed_batch_removes_what_its_other_objects_wrote_and_names_the_object_once(buckets, settings):
    good = b"\n".join([GOOD % (1, 2, 1), b"{broken", GOOD % (2, 3, 2)])  # rows in two partitions, a rejection
    failing = b"\n".join([GOOD % (3, 2, 3), b'{"event_id":"x","ts":"2026-11-22T12:00:00Z","type":"error","value":1}'])
    for key, body in {"raw/a.gz": gzip.compress(good), "raw/b": good, "raw/c": failing}.items():
        buckets.put_object(Bucket="landing", Key=key, Body=body)
    with pytest.raises(BatchFailed) as failed:
        process_batch(event("raw/a.gz", "raw/b", "raw/c"), buckets, settings, MergeBugJob())
    assert str(failed.value) == "s3://landing/raw/c (lines from 1 on): ZeroDivisionError: the job's merge"
    assert buckets.list_objects_v2(Bucket="pipeline").get("KeyCount") == 0  # no curated file, no quarantine
    # the same objects without the bug write both, so the test above removed something
    summary = process_batch(event("raw/a.gz", "raw/b"), buckets, settings, MergeBugJob())
    assert [len(obj.rows_by_partition) for obj in summary.objects] == [2, 2] and len(summary.files) == 2
    assert all(o.quarantine_key for o in summary.objects)


def test_files_a_failed_batch_cannot_remove_make_its_failure_unclean(buckets):
    buckets.put_object(Bucket="landing", Key="raw/a", Body=GOOD % (1, 2, 1) + b"\n{broken")  # a quarantine
    buckets.put_object(
        Bucket="landing", Key="raw/c", Body=b'{"event_id":"x","ts":"2026-11-22T12:00:00Z","type":"error","value":1}'
    )

    class Undeletable:
        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            return getattr(self._client, name)

        def delete_objects(self, **kwargs):
            keys = kwargs["Delete"]["Objects"]
            return {"Errors": [{"Key": k["Key"], "Code": "AccessDenied"} for k in keys]}

    with pytest.raises(RuntimeError, match="files of the batch could not be removed") as failed:
        process_batch(
            event("raw/a", "raw/c"), Undeletable(buckets), ProcessorSettings(SMALL_OBJECT_BYTES=0), MergeBugJob()
        )
    assert type(failed.value).__name__ not in CLEAN_FAILURES


def test_after_a_failed_object_the_small_objects_not_yet_started_never_start(buckets):
    failing = b'{"event_id":"x","ts":"2026-11-22T12:00:00Z","type":"error","value":1}'
    keys = ["raw/fails", "raw/b", "raw/c", "raw/d"]
    for key in keys:
        buckets.put_object(Bucket="landing", Key=key, Body=failing if key == "raw/fails" else GOOD % (1, 2, 1))
    read = []

    class Counting:
        def __getattr__(self, name):
            return getattr(buckets, name)

        def get_object(self, **kwargs):
            read.append(kwargs["Key"])
            return buckets.get_object(**kwargs)

    one_at_a_time = ProcessorSettings(SMALL_OBJECT_BYTES=1 << 20, FETCH_CONCURRENCY=1)
    with pytest.raises(BatchFailed, match="raw/fails"):
        process_batch(event(*keys), Counting(), one_at_a_time, MergeBugJob())
    assert read == ["raw/fails"]


def rows_of(s3, files) -> list[tuple[str, int]]:
    """(source key, line) of every row of the batch's files, in the files' order."""
    return [(r["source_key"], r["source_line"]) for r in parquet_rows(s3, "pipeline", [f.key for f in files])]


def test_objects_with_rows_in_one_hour_share_one_file_per_batch(buckets, settings):
    buckets.put_object(
        Bucket="landing", Key="raw/a.gz", Body=gzip.compress(GOOD % (1, 3, 1) + b"\n" + GOOD % (2, 2, 2))
    )
    buckets.put_object(
        Bucket="landing", Key="raw/b.gz", Body=gzip.compress(GOOD % (3, 3, 3) + b"\n" + GOOD % (4, 3, 4))
    )
    batch = run(buckets, settings, "raw/a.gz", "raw/b.gz")
    a, b = batch.objects
    assert (a.rows_by_partition, b.rows_by_partition) == ({HOUR_12: 1, HOUR_13: 1}, {HOUR_13: 2})
    assert [(f.partition, f.rows) for f in batch.files] == [(HOUR_12, 1), (HOUR_13, 1 + 2)]  # both objects' rows
    assert buckets.list_objects_v2(Bucket="pipeline", Prefix=CURATED_PREFIX)["KeyCount"] == 2
    hour13 = parquet_rows(buckets, "pipeline", [batch.files[1].key])
    assert sorted((r["source_key"], r["event_id"]) for r in hour13) == [
        ("raw/a.gz", "e1"),
        ("raw/b.gz", "e3"),
        ("raw/b.gz", "e4"),
    ]


def test_an_object_that_fails_alone_adds_none_of_its_rows_even_those_read_before(buckets, settings, monkeypatch):
    valid = b"\n".join(GOOD % (n, 3, n) for n in range(40_000))  # 2.6 MB: messages are folded before the end
    buckets.put_object(Bucket="landing", Key="raw/cut.gz", Body=gzip.compress(valid)[:-8])  # no gzip trailer
    buckets.put_object(Bucket="landing", Key="raw/ok.gz", Body=gzip.compress(GOOD % (1, 3, 1)))
    added = []
    add = ObjectRows.add
    monkeypatch.setattr(
        ObjectRows, "add", lambda rows, path, batch: added.append(batch.num_rows) or add(rows, path, batch)
    )
    batch = run(buckets, settings, "raw/cut.gz", "raw/ok.gz")
    cut, ok = batch.objects
    assert (cut.status, cut.rows_by_partition, ok.status) == ("failed", {}, "processed")
    assert sum(added) > 1  # rows of the cut object were held before it failed
    assert [(f.partition, f.rows) for f in batch.files] == [(HOUR_13, 1)]
    assert rows_of(buckets, batch.files) == [("raw/ok.gz", 1)]


def test_a_retried_batch_writes_the_same_keys_and_another_batch_its_own(buckets, settings):
    for key in ("raw/a.gz", "raw/b.gz"):
        buckets.put_object(Bucket="landing", Key=key, Body=gzip.compress(GOOD % (1, 2, 1) + b"\n" + GOOD % (2, 3, 2)))
    first = run(buckets, settings, "raw/a.gz", "raw/b.gz")
    retried = run(buckets, settings, "raw/a.gz", "raw/b.gz")
    assert [f.key for f in retried.files] == [f.key for f in first.files] and len(first.files) == 2
    other = run(buckets, settings, "raw/b.gz")
    assert not {f.key for f in other.files} & {f.key for f in first.files}
    listed = buckets.list_objects_v2(Bucket="pipeline", Prefix=CURATED_PREFIX)["KeyCount"]
    assert listed == 4 and sorted(rows_of(buckets, retried.files)) == [
        (k, n) for k in ("raw/a.gz", "raw/b.gz") for n in (1, 2)
    ]


def test_a_tiny_budget_spills_every_object_and_partition_and_every_row_arrives_in_order(
    buckets, settings, tmp_path, monkeypatch
):
    keys = [f"raw/{n}.gz" for n in range(6)]
    bodies = {k: b"\n".join(GOOD % (n, n % 4, n) for n in range(i, 6000, 3)) for i, k in enumerate(keys)}
    for key, body in bodies.items():
        buckets.put_object(Bucket="landing", Key=key, Body=gzip.compress(body))
    monkeypatch.setattr("landfall.process.processing.Budget", lambda limit: Budget(16 << 10))  # a message is more
    spills = []
    new_file = _SpillDir.new_file
    monkeypatch.setattr(_SpillDir, "new_file", lambda folder: spills.append(new_file(folder)) or spills[-1])
    settings = settings.model_copy(update={"spill_dir": str(tmp_path), "chunk_bytes": 4096})
    batch = process_batch(event(*keys), buckets, settings, default_job())
    assert [f.partition for f in batch.files] == [f"dt=2026-11-22/hour=1{h}" for h in range(4)]
    assert len(spills) >= len(keys) * 4  # each object's rows spilled, in each hour
    expected = [(k, n) for k, body in bodies.items() for n in range(1, len(body.splitlines()) + 1)]
    assert sorted(rows_of(buckets, batch.files)) == sorted(expected)
    for file in batch.files:  # within each file, each object's rows in the order of its lines
        rows = rows_of(buckets, [file])
        for key in keys:
            assert [n for k, n in rows if k == key] == sorted(n for k, n in rows if k == key)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_batch_failed_by_an_object_leaves_no_file_and_no_spill(buckets, settings, tmp_path, monkeypatch):
    good = b"\n".join([GOOD % (n, n % 4, n) for n in range(3000)] + [b"{broken"])  # spills, and a quarantine
    failing = GOOD % (1, 2, 1) + b'\n{"event_id":"x","ts":"2026-11-22T12:00:00Z","type":"error","value":1}'
    for key, body in {"raw/a.gz": gzip.compress(good), "raw/b": good, "raw/z": failing}.items():
        buckets.put_object(Bucket="landing", Key=key, Body=body)
    monkeypatch.setattr("landfall.process.processing.Budget", lambda limit: Budget(16 << 10))
    settings = settings.model_copy(update={"spill_dir": str(tmp_path)})
    with pytest.raises(BatchFailed, match="raw/z"):
        process_batch(event("raw/a.gz", "raw/b", "raw/z"), buckets, settings, MergeBugJob())
    assert buckets.list_objects_v2(Bucket="pipeline").get("KeyCount") == 0  # no curated file, no quarantine
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


class SlowDownOnSecondFile:
    """An S3 client that throttles the second curated file the batch writes: its first is written already."""

    def __init__(self, client):
        self._client, self.files = client, 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **kwargs):
        if kwargs["Key"].startswith(CURATED_PREFIX):
            self.files += 1
            if self.files == 2:
                raise ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "Put")
        return self._client.put_object(**kwargs)


def test_a_batch_whose_files_fail_midway_removes_those_written_and_can_be_retried(buckets, settings, tmp_path):
    body = gzip.compress(b"\n".join([GOOD % (1, 2, 1), GOOD % (2, 3, 2), b"{broken"]))  # two hours, a quarantine
    buckets.put_object(Bucket="landing", Key="raw/a.gz", Body=body)
    throttled = SlowDownOnSecondFile(buckets)
    settings = settings.model_copy(update={"spill_dir": str(tmp_path)})
    with pytest.raises(TransientError, match="SlowDown"):  # the state machine retries it
        process_batch(event("raw/a.gz"), throttled, settings, default_job())
    assert throttled.files == 2  # one file was written before the second failed
    assert buckets.list_objects_v2(Bucket="pipeline").get("KeyCount") == 0  # neither it nor the quarantine stays
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert len(process_batch(event("raw/a.gz"), throttled, settings, default_job()).files) == 2
