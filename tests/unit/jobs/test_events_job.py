import pytest

from landfall.jobs import RecordRejected, default_job

JOB = default_job()


def line(**fields):
    import json

    base = {"event_id": "e1", "ts": "2026-11-22T13:05:00.123Z", "type": "click", "value": 1.5}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_a_valid_event_with_unknown_fields_is_accepted_and_partitioned_by_utc_hour():
    record = JOB.decode(line(extra={"kept": True}, ts="2026-11-22T23:30:00-02:00"))
    (key,) = JOB.fold(JOB.new_aggregate(), [record])
    assert JOB.partition_path(key) == "dt=2026-11-23/hour=01"


def test_bulk_decoding_agrees_with_line_decoding():
    lines = [line(event_id=f"e{n}", value=n) for n in range(5)]
    assert JOB.decode_lines(b"\n".join(lines) + b"\n\n") == [JOB.decode(raw) for raw in lines]


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (b"{not json", "invalid_json", None),
        (b'{"event_id": "\xff"}', "invalid_utf8", None),
        (line(value=...), "schema", "value"),
        (line(type="teleport"), "schema", "$.type"),
        (line(ts="yesterday"), "schema", "$.ts"),
        (line(ts="2026-11-22T13:05:00"), "schema", "$.ts"),
        (line(value=True), "schema", "$.value"),
        (line(event_id=7), "schema", "$.event_id"),
        (line(props=[1]), "schema", "$.props"),
    ],
)
def test_bad_lines_are_rejected_with_a_reason_naming_the_field(raw, reason, field):
    with pytest.raises(RecordRejected) as rejected:
        JOB.decode(raw)
    assert rejected.value.reason == reason
    if field:
        assert field in rejected.value.detail


def test_aggregates_fold_and_merge_associatively():
    records = [JOB.decode(line(type=t, value=v)) for t, v in [("click", 1), ("click", 5), ("purchase", 9.5)]]
    left, right, whole = JOB.new_aggregate(), JOB.new_aggregate(), JOB.new_aggregate()
    JOB.fold(left, records[:1])
    JOB.fold(right, records[1:])
    JOB.fold(whole, records)
    assert JOB.merge(left, right) == whole == JOB.merge(JOB.new_aggregate(), whole)
    assert whole["by_type"]["click"] == {"count": 2, "sum": 6.0, "min": 1.0, "max": 5.0}
    assert whole["by_hour"] == {"2026-11-22T13": 3}
