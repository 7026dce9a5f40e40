"""S3 event notifications with what AWS puts in them and moto (pinned) leaves out.

AWS names the object's version (`s3.object.versionId`) in every notification of a bucket with
versioning enabled (S3's notification content structure); moto's `_get_s3_event` never does, so two
versions of one key would reach the manifest writer as the same object twice.
"""

from __future__ import annotations

from typing import Any

from moto.s3 import notifications

from landfall_cli.local.asl_extensions import PatchPointMoved, verify_patch_points

PATCH_POINTS = ((notifications, "_get_s3_event"),)
_original = notifications._get_s3_event


def _s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _original(event_name, bucket, key, notification_id)
    version_id = getattr(key, "version_id", None)
    if version_id and version_id != "null":  # "null": written while versioning was off or suspended
        for record in event["Records"]:
            record["s3"]["object"]["versionId"] = version_id
    return event


def install() -> None:
    """Idempotent; fails loudly if moto moved what it replaces (moto is pinned exactly)."""
    verify_patch_points()
    if not callable(getattr(notifications, "_get_s3_event", None)):
        raise PatchPointMoved("moto internals moved: moto.s3.notifications._get_s3_event")
    notifications._get_s3_event = _s3_event
