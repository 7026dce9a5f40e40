"""One counter model: a batch's progress marker, the CLI's sum of them and the report's counts agree."""

import gzip

from landfall.core.layout import progress_prefix
from landfall.ingest.messages import ManifestItem
from landfall.jobs import default_job
from landfall.process.counts import Counts, ObjectCounts
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings
from landfall_cli.operate import ProgressReader

GOOD = b'{"event_id":"e%d","ts":"2026-11-22T12:00:00Z","type":"click","value":%d}'


def test_the_progress_markers_add_up_to_what_the_batches_did(s3):
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    s3.put_object(
        Bucket="landing", Key="raw/a.gz", Body=gzip.compress(b"\n".join([GOOD % (1, 1), b"{", GOOD % (2, 2)]))
    )
    s3.put_object(Bucket="landing", Key="raw/b.gz", Body=gzip.compress(b"{}{}" + GOOD % (3, 3)))  # records back to back
    s3.put_object(Bucket="landing", Key="raw/c.gz", Body=gzip.compress(GOOD * 50)[:30])  # cut short: fails alone
    summaries = []
    for keys in (["raw/a.gz", "raw/b.gz"], ["raw/c.gz"]):
        event = ProcessorEvent(
            BatchInput=BatchInput(run_id="r", output_bucket="pipeline"),
            Items=[ManifestItem(bucket="landing", key=key, size=10) for key in keys],
        )
        summaries += process_batch(event, s3, ProcessorSettings(), default_job()).objects

    progress = ProgressReader(s3, "pipeline", "r").read()
    assert len(s3.list_objects_v2(Bucket="pipeline", Prefix=progress_prefix("r"))["Contents"]) == 2
    assert progress == Counts.of(summaries)
    assert (progress.done, progress.objects.processed, progress.objects.failed) == (3, 2, 1)
    assert (progress.objects.without_delimiters, progress.records.read, progress.records.valid) == (1, 6, 3)
    assert progress.records.rejected_by_reason == {"invalid_json": 1, "schema": 2}
    assert progress.records.written == progress.records.valid


def test_counts_add_field_by_field_and_travel_as_json():
    one = Counts()
    one.objects.processed, one.records.read, one.records.rejected_by_reason = 2, 10, {"schema": 1}
    two = Counts.from_json(one.to_json())
    assert two == one
    two.add(one)
    assert (two.objects.processed, two.records.read, two.records.rejected_by_reason) == (4, 20, {"schema": 2})
    assert dict(two.rows())["processed"] == 4 and dict(two.rows())["records"] == 20


def test_a_progress_marker_of_the_previous_shape_counts_nothing_and_breaks_nothing(s3):
    s3.create_bucket(Bucket="pipeline")
    old = b'{"objects": 2, "processed": 2, "failed": 0, "records": 9, "valid": 9, "rejected": 0}'
    s3.put_object(Bucket="pipeline", Key=f"{progress_prefix('r')}old.json", Body=old)
    s3.put_object(
        Bucket="pipeline", Key=f"{progress_prefix('r')}new.json", Body=Counts(ObjectCounts(processed=1)).to_json()
    )
    assert ProgressReader(s3, "pipeline", "r").read() == Counts(ObjectCounts(processed=1))
