"""What a person sees running the demo: counts that add up, warnings that fail it, a quiet terminal, a
run they can find afterwards, a refusal shown at once, and clean exits."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from landfall.jobs.samples import make_dataset
from landfall_emulator.emulator import Emulator, FunctionFailed
from tests.integration.test_demo import demo

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

# Events of a minute ago, as a stream's: the quality rules find them fresh (their lag is from their
# objects' landing, these not being named as Firehose names its objects); each test's own finding stands alone
NOW = datetime.now(UTC).replace(microsecond=0)
GOOD = b'{"event_id": "e-%%d", "type": "click", "ts": "%s", "user_id": "u", "value": 1.5}' % (
    (NOW - timedelta(minutes=1)).isoformat().replace("+00:00", "Z").encode()
)


def _junk_folder(folder: Path) -> None:
    """One good Firehose object, a zero-byte one, a PDF, and a ZIP of 1,000 good lines."""
    good = make_dataset(objects=1, records=50, bad_ratio=0.0, seed=2, start=NOW).objects[0].body
    (folder / "good.gz").write_bytes(good)
    (folder / "empty.gz").write_bytes(b"")
    (folder / "doc.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("records.jsonl", b"\n".join(GOOD % n for n in range(1000)) + b"\n")
    (folder / "records.zip").write_bytes(archive.getvalue())


def test_junk_among_the_objects_is_counted_flagged_and_fails_the_demo(tmp_path: Path):
    source, logs = tmp_path / "source", tmp_path / "logs"
    source.mkdir()
    _junk_folder(source)
    result = demo("--source", str(source), "--logs", str(logs))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    # every object is accounted for: the empty one dropped with its reason, the PDF failed with its own
    assert re.search(r"dropped: empty\s*│\s*1 │", out), out
    assert (
        "✓ every object and every record is accounted for: 4 objects landed = 2 processed + 1 failed + "
        "0 pending + 1 dropped (1 empty)"
    ) in out
    assert re.search(r"⚠ object failure: s3://\S+/doc\.pdf: unsupported format: PDF", out), out
    assert re.search(r"✗ run notification-[0-9a-f]{32} FAILED: 1 of 3 objects failed", out), out
    # the ZIP's 1,000 lines are read as 1,000 records, not as the archive's bytes
    assert re.search(r"valid\s*│\s*1,050 │", out), out
    assert "the demo fails: 1 failed run, 2 warnings" in out
    (run_id,) = set(re.findall(r"notification-[0-9a-f]{32}", out))
    assert "1 object a retry cannot fix: what to do is under Failures in the report" in out  # the PDF
    assert "to run again" not in out and f"redrive {run_id}" not in out


def test_a_run_whose_every_line_is_rejected_or_above_the_rejection_rate_fails_the_demo(tmp_path: Path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "good.gz").write_bytes(gzip.compress(b"\n".join(GOOD % n for n in range(90)) + b"\n"))
    (source / "junk.gz").write_bytes(gzip.compress(b"\n".join(b"not json %d" % n for n in range(10)) + b"\n"))
    anonymous = b"\n".join((GOOD % n).replace(b', "user_id": "u"', b"") for n in range(90, 200))
    (source / "anonymous.gz").write_bytes(gzip.compress(anonymous + b"\n"))  # 110 of 200 rows: null share 0.55
    result = demo("--source", str(source), "--max-rejected-percentage", "4")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "✓ every object and every record is accounted for: 3 objects landed = 3 processed" in out
    assert re.search(r"⚠ .*1 object had no valid line \(every line was rejected\): .*junk\.gz", out), out
    assert re.search(r"⚠ .*4\.8 % of the lines were rejected", out), out
    # a quality rule breached warns the run like any warning, and the summary's rules show it
    assert re.search(r"⚠ .*quality rule null_share\.user_id: 0\.55, not ≤ 0\.5", out), out
    (nulls,) = [line for line in out.splitlines() if "│ null_share.user_id" in line]
    assert "0.55 (warn)" in nulls, out
    assert "the demo fails: 3 warnings" in out


def test_the_terminal_shows_the_table_and_the_summary_the_logs_go_to_files_and_the_end_says_where(tmp_path: Path):
    logs, out = tmp_path / "logs", tmp_path / "out"
    result = demo("--objects", "2", "--records", "20", "--logs", str(logs), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    for noise in ('"level"', '"_aws"', "START RequestId", "Traceback"):
        assert noise not in result.stdout + result.stderr, noise
    assert f"the functions' logs: {logs}" in result.stdout
    written = {path.name: path.read_text() for path in logs.glob("*.log")}
    assert any('"level":"INFO"' in text for text in written.values()), written.keys()
    assert any('"_aws"' in text for text in written.values())  # the metrics, in the processor's log
    _says_where_everything_is(result.stdout, out)

    verbose = demo("--objects", "1", "--records", "10", "--verbose")
    assert verbose.returncode == 0 and '"level":"INFO"' in verbose.stdout + verbose.stderr
    assert "the functions' logs: above (--verbose)" in verbose.stdout


def _says_where_everything_is(stdout: str, out: Path) -> None:
    """The end of a run says where everything is, as it must be typed."""
    (run_id,) = set(re.findall(r"notification-[0-9a-f]{32}", stdout))  # full ids, never cut
    where = stdout[stdout.index("Where it is") :]
    for expected in (
        f"run {run_id}: SUCCEEDED",
        f"reports/{run_id}/report.md",
        f"saved in {out}/reports/{run_id}",
        f"Iceberg copy: {out}/curated/events/metadata/v1.metadata.json (open it with any Iceberg reader)",
        "curated: s3://",
        "quarantine: s3://",
        'query --local "SELECT',
    ):
        assert expected in where, (expected, where)
    assert re.search(rf"(\.venv/bin/landfall|landfall) report {run_id} --local", where), where
    assert (out / "reports" / run_id / "timeline.svg").exists() and (out / "reports" / run_id / "report.md").exists()


def test_a_function_refusing_its_settings_ends_the_wait_with_its_own_message(emulator: Emulator):
    """On the package's emulator (a second one in this process would reset moto's backends under it): the
    manifest writer refuses its settings, the wait ends at the refusal with its words, not at the timeout."""
    writer = emulator.function_name("ManifestWriterFunction")
    original = emulator.lambdas.functions[writer].environment["MAX_ITEMS_PER_BATCH"]
    emulator.lambdas.reconfigure(writer, {"MAX_ITEMS_PER_BATCH": "0"})
    try:  # an empty object: once the writer is set right again, its notification starts nothing
        emulator.client("s3").put_object(Bucket=emulator.landing_bucket, Key="raw/2026/11/22/13/refused", Body=b"")
        with pytest.raises(FunctionFailed) as failed:
            emulator.wait_for_ingestion(1, timeout=240)
    finally:
        emulator.lambdas.reconfigure(writer, {"MAX_ITEMS_PER_BATCH": original})
    assert writer in str(failed.value) and "MAX_ITEMS_PER_BATCH" in str(failed.value)
    for _ in range(5):  # the retries refused before the fix are reported once each; then the queue drains
        try:
            emulator.wait_for_ingestion(0, timeout=120)
            break
        except FunctionFailed:
            continue


def test_local_commands_find_a_dead_emulators_state_and_clean_it_up(tmp_path: Path):
    state = tmp_path / "local.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state.write_text(
        json.dumps(
            {"endpoint_url": "http://127.0.0.1:9", "region": "us-east-1", "outputs": {}, "pid": int(dead.stdout)}
        )
    )
    env = {**os.environ, "LANDFALL_LOCAL_STATE": str(state)}
    result = subprocess.run(  # noqa: S603 - from another directory: the checkout's state is found all the same
        [sys.executable, "-m", "landfall_cli.main", "status", "some-run", "--local"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert "has stopped (its state is removed)" in result.stderr and not state.exists()
