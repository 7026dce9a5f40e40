"""The benchmarks' ingestion workloads do the real work they claim to measure (no timings asserted)."""

from benchmarks.ingestion import backfill, manifest_writer, sqs_batch
from benchmarks.reduction import make_results, naive, reducer


def test_the_manifest_writer_workload_starts_one_run_from_a_realistic_batch():
    batch = sqs_batch(300)
    assert len(batch["Records"]) == 300
    ours, bare = manifest_writer(batch)  # asserts: no failures, exactly one run started
    assert ours > 0 and bare > 0


def test_the_backfill_workload_writes_one_manifest_line_per_key():
    written = backfill("2500")
    assert 2500 * 150 < written < 2500 * 300  # one JSON line per key


def test_the_reducer_workloads_agree_on_a_generated_run(tmp_path):
    make_results(tmp_path, 300, per_file=120)  # three result files
    assert reducer(str(tmp_path)) > 0  # asserts: SUCCEEDED, every object processed
    assert naive(str(tmp_path)) > 0
    (report,) = tmp_path.glob("reports/*/report.json")
    assert '"processed": 300' in report.read_text()
