"""Turn S3 notifications, in every shape they arrive in, into manifest items.

Shapes: S3 event notifications (direct, or as the body of an SQS message) and EventBridge
"Object Created" events. Keys in S3 notifications are URL-encoded (`+` is a space); EventBridge keys
are not. `s3:TestEvent` messages, folder markers, empty objects and keys outside the configured
prefix/suffix are skipped.

Messages are decoded with msgspec into just the fields used: a batch of 10,000 notifications costs
less than `json.loads` of the same bodies, and a message of the wrong shape is named precisely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import msgspec

from landfall.ingest.messages import ManifestItem


class MalformedNotification(ValueError):
    """A message is not a notification this pipeline understands."""


class _Bucket(msgspec.Struct):
    name: str


class _S3Object(msgspec.Struct, rename={"etag": "eTag", "version_id": "versionId"}):
    key: str
    size: int = 0
    etag: str = ""
    version_id: str | None = None


class _S3Entity(msgspec.Struct):
    bucket: _Bucket
    object: _S3Object


class _S3Record(msgspec.Struct):
    s3: _S3Entity


class _EventBridgeObject(msgspec.Struct, rename={"version_id": "version-id"}):
    key: str
    size: int = 0
    etag: str = ""
    version_id: str | None = None


class _EventBridgeDetail(msgspec.Struct):
    bucket: _Bucket
    object: _EventBridgeObject


class _Message(msgspec.Struct, rename={"detail_type": "detail-type", "records": "Records", "event": "Event"}):
    records: list[_S3Record] | None = None
    event: str | None = None
    detail_type: str | None = None
    detail: _EventBridgeDetail | None = None


_decoder = msgspec.json.Decoder(_Message)


def _decode_key(key: str) -> str:
    return unquote_plus(key) if "%" in key or "+" in key else key


def items_from_message(body: str | bytes | dict[str, Any]) -> list[ManifestItem]:
    """Manifest items of one notification message (an SQS body or a direct event)."""
    try:
        message = msgspec.convert(body, _Message) if isinstance(body, dict) else _decoder.decode(body)
    except msgspec.ValidationError as error:
        raise MalformedNotification(f"not an S3 or EventBridge notification: {error}") from None
    except msgspec.DecodeError as error:
        raise MalformedNotification(f"message body is not JSON: {error}") from None
    if message.event == "s3:TestEvent":
        return []
    if message.detail_type == "Object Created" and message.detail is not None:
        bucket, obj = message.detail.bucket.name, message.detail.object
        return [_item(bucket, obj.key, obj.size, obj.etag, obj.version_id)]
    if message.records is not None:
        return [
            _item(
                r.s3.bucket.name,
                _decode_key(r.s3.object.key),
                r.s3.object.size,
                r.s3.object.etag,
                r.s3.object.version_id,
            )
            for r in message.records
        ]
    raise MalformedNotification("message is neither an S3 nor an EventBridge notification")


def _item(bucket: str, key: str, size: int, etag: str, version_id: str | None) -> ManifestItem:
    return ManifestItem(bucket=bucket, key=key, size=size, etag=etag, version_id=version_id or None)


def unwanted(item: ManifestItem, prefix: str, suffix: str) -> str | None:
    """Why an object is no data to process (None when it is: a real object under prefix and suffix)."""
    if item.key.endswith("/"):
        return "folder marker"
    if item.size == 0:
        return "empty"
    if not (item.key.startswith(prefix) and item.key.endswith(suffix)):
        return "outside prefix or suffix"
    return None


def wanted(item: ManifestItem, prefix: str, suffix: str) -> bool:
    return unwanted(item, prefix, suffix) is None


@dataclass(frozen=True, slots=True)
class Selection:
    """The wanted items, each (bucket, key, version) once, and how many others were dropped, by reason."""

    items: list[ManifestItem]
    dropped: dict[str, int]


def select(items: Iterable[ManifestItem], prefix: str, suffix: str) -> Selection:
    seen: set[tuple[str, str, str | None]] = set()
    wanted_items: list[ManifestItem] = []
    dropped: Counter[str] = Counter()
    for item in items:
        identity = (item.bucket, item.key, item.version_id)
        reason = unwanted(item, prefix, suffix) or ("duplicate" if identity in seen else None)
        if reason is not None:
            dropped[reason] += 1
            continue
        seen.add(identity)
        wanted_items.append(item)
    return Selection(wanted_items, dict(dropped))
