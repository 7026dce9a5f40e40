import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from landfall.ingest.messages import ManifestItem
from landfall.ingest.notifications import MalformedNotification, items_from_message, select
from tests.conftest import load_event


def _bodies(event):
    return [record["body"] for record in event["Records"]]


def test_sqs_wrapped_s3_notifications_decode_every_key():
    event = load_event("manifest_writer/sqs-s3-notifications.json")
    keys = [item.key for body in _bodies(event) for item in items_from_message(body)]
    assert "raw/2026/11/22/13/reports for Q4 (final).gz" in keys  # + is a space
    assert "raw/2026/11/22/13/a+b=c.gz" in keys  # %2B is a plus
    assert "raw/2026/11/22/13/café-日本語.gz" in keys  # non-ASCII


def test_direct_and_eventbridge_events():
    direct = items_from_message(load_event("manifest_writer/s3-direct.json"))
    bridge = items_from_message(load_event("manifest_writer/eventbridge-object-created.json"))
    assert [i.key for i in direct][1] == "raw/2026/11/22/13/reports for Q4 (final).gz"
    assert bridge == [
        ManifestItem(
            bucket="landfall-landing-a25c9876-576d-5906-addc-c399c7f2b450",
            key="raw/2026/11/22/13/reports for Q4 (final).gz",
            size=2048,
            etag="b1946ac92492d2347c6235b4d2611184",
        )
    ]


def test_the_s3_test_event_is_ignored():
    (body,) = _bodies(load_event("manifest_writer/sqs-test-event.json"))
    assert items_from_message(body) == []


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"hello": 1}), json.dumps({"Records": [{"s3": {}}]})])
def test_malformed_messages_raise(body):
    with pytest.raises(MalformedNotification):
        items_from_message(body)


def test_select_filters_markers_empties_prefix_suffix_and_duplicates():
    def item(key, size=10, version=None):
        return ManifestItem(bucket="b", key=key, size=size, version_id=version)

    items = [
        item("raw/a.gz"),
        item("raw/a.gz"),
        item("raw/a.gz", version="v2"),
        item("raw/dir/", size=0),
        item("raw/empty.gz", size=0),
        item("other/b.gz"),
        item("raw/c.json"),
    ]
    selection = select(items, prefix="raw/", suffix=".gz")
    kept, dropped = selection.items, selection.dropped
    assert [(i.key, i.version_id) for i in kept] == [("raw/a.gz", None), ("raw/a.gz", "v2")]
    # every object is kept or dropped for a reason the demo and the manifest writer's answer name
    assert dropped == {"duplicate": 1, "folder marker": 1, "empty": 1, "outside prefix or suffix": 2}
    assert len(kept) + sum(dropped.values()) == len(items)


@given(st.text(min_size=1, max_size=60).filter(lambda k: "\x00" not in k))
def test_any_key_survives_s3_url_encoding(key):
    from urllib.parse import quote_plus

    record = {"s3": {"bucket": {"name": "b"}, "object": {"key": quote_plus(key), "size": 1}}}
    (decoded,) = items_from_message({"Records": [record]})
    assert decoded.key == key
