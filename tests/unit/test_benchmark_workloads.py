"""The benchmarks' ingestion workloads do the real work they claim to measure (no timings asserted)."""

from benchmarks.ingestion import backfill, manifest_writer, sqs_batch


def test_the_manifest_writer_workload_starts_one_run_from_a_realistic_batch():
    batch = sqs_batch(300)
    assert len(batch["Records"]) == 300
    ours, bare = manifest_writer(batch)  # asserts: no failures, exactly one run started
    assert ours > 0 and bare > 0


def test_the_backfill_workload_writes_one_manifest_line_per_key():
    written = backfill("2500")
    assert 2500 * 150 < written < 2500 * 300  # one JSON line per key
