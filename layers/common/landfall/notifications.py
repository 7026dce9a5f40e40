"""Turn S3 notifications, in every shape they arrive in, into manifest items.

Shapes: S3 event notifications (direct, or as the body of an SQS message) and EventBridge
"Object Created" events. Keys in S3 notifications are URL-encoded (`+` is a space); EventBridge keys
are not. `s3:TestEvent` messages, folder markers, empty objects and keys outside the configured
prefix/suffix are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

from landfall.models import ManifestItem


class MalformedNotification(ValueError):
    """A message is not a notification this pipeline understands."""


def items_from_message(body: str | dict[str, Any]) -> list[ManifestItem]:
    """Manifest items of one notification message (an SQS body or a direct event)."""
    try:
        message = json.loads(body) if isinstance(body, str) else body
    except json.JSONDecodeError as error:
        raise MalformedNotification(f"message body is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise MalformedNotification("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if message.get("detail-type") == "Object Created":
        return [_from_eventbridge(message)]
    if isinstance(message.get("Records"), list):
        return [_from_s3_record(record) for record in message["Records"]]
    raise MalformedNotification("message is neither an S3 nor an EventBridge notification")


def _from_s3_record(record: Any) -> ManifestItem:
    try:
        s3 = record["s3"]
        obj = s3["object"]
        return ManifestItem(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            size=int(obj.get("size", 0)),
            etag=obj.get("eTag", ""),
            version_id=obj.get("versionId") or None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedNotification(f"S3 record lacks {error}") from None


def _from_eventbridge(event: dict[str, Any]) -> ManifestItem:
    try:
        detail = event["detail"]
        obj = detail["object"]
        return ManifestItem(
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            size=int(obj.get("size", 0)),
            etag=obj.get("etag", ""),
            version_id=obj.get("version-id") or None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedNotification(f"EventBridge event lacks {error}") from None


def select(items: Iterable[ManifestItem], prefix: str, suffix: str) -> Iterator[ManifestItem]:
    """Keep real data objects under prefix/suffix, each (bucket, key, version) once."""
    seen: set[tuple[str, str, str | None]] = set()
    for item in items:
        if item.key.endswith("/") or item.size == 0:
            continue
        if not item.key.startswith(prefix) or not item.key.endswith(suffix):
            continue
        identity = (item.bucket, item.key, item.version_id)
        if identity not in seen:
            seen.add(identity)
            yield item
