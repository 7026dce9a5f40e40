"""The default job: application events (clickstream / telemetry) as Firehose streams carry them.

    {"event_id": "5f0c…", "ts": "2026-11-22T13:05:00.123Z", "type": "page_view", "user_id": "u-42",
     "value": 1.5, "props": {"path": "/"}}

Required: event_id (string), ts (RFC 3339 with an offset), type (one of EVENT_TYPES), value (a number
within ±VALUE_LIMIT, so that no sum of values a run could hold overflows to infinity).
Optional: user_id (string), props (object). Unknown fields are allowed (and kept in curated output).
Aggregates: count, sum, min and max of value per type; record count per UTC hour.
Partitions: the event's UTC date and hour.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec

from landfall.jobs import RecordRejected

EventType = Literal[
    "page_view", "click", "add_to_cart", "purchase", "search",
    "signup", "login", "logout", "share", "error",
]  # fmt: skip


class _AnyObject(msgspec.Struct, gc=False):
    """Validates that a value is a JSON object without building it (its fields are skipped)."""


VALUE_LIMIT = 1e15


class Event(msgspec.Struct, gc=False):
    event_id: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    type: EventType
    value: Annotated[float, msgspec.Meta(ge=-VALUE_LIMIT, le=VALUE_LIMIT)]
    user_id: str | None = None
    props: _AnyObject | None = None


_decoder = msgspec.json.Decoder(Event)
_ts = attrgetter("ts")
_type = attrgetter("type")
_value = attrgetter("value")
_tzinfo = attrgetter("tzinfo")
_hour = attrgetter("hour")
_hour_key = attrgetter("year", "month", "day", "hour")


def _hour_keys(stamps: list[datetime]) -> tuple[list[int], dict[int, int]]:
    """Each stamp's hour as YYYYMMDDHH, and how many share each, in C-speed passes (a block of
    Firehose records usually spans an hour or two of one day)."""
    count = len(stamps)
    low, high = min(stamps), max(stamps)
    day = ((low.year * 100 + low.month) * 100 + low.day) * 100
    if low.date() != high.date():
        keys = [((y * 100 + m) * 100 + d) * 100 + h for y, m, d, h in map(_hour_key, stamps)]
        return keys, Counter(keys)
    if low.hour == high.hour:
        return [day + low.hour] * count, {day + low.hour: count}
    hours = list(map(_hour, stamps))
    per_hour = {day + hour: n for hour in range(low.hour, high.hour + 1) if (n := hours.count(hour))}
    return list(map(day.__add__, hours)), per_hour


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class EventsJob:
    name = "events"

    def decode_lines(self, data: bytes) -> list[Event]:
        return _decoder.decode_lines(data)

    def decode(self, line: bytes) -> Event:
        try:
            event = _decoder.decode(line)
        except msgspec.ValidationError as error:
            raise RecordRejected("schema", str(error)) from None
        except UnicodeDecodeError:
            raise RecordRejected("invalid_utf8", "line is not valid UTF-8") from None
        except msgspec.DecodeError as error:
            if not _is_utf8(line):  # say so rather than "malformed JSON"
                raise RecordRejected("invalid_utf8", "line is not valid UTF-8") from None
            raise RecordRejected("invalid_json", str(error)) from None
        return event

    def fold(self, aggregate: dict[str, Any], records: Sequence[Event]) -> list[int]:
        stamps = list(map(_ts, records))
        count = len(stamps)
        if list(map(_tzinfo, stamps)).count(UTC) != count:  # offsets other than Z are rare
            stamps = [stamp.astimezone(UTC) for stamp in stamps]
        keys, per_hour = _hour_keys(stamps)
        by_hour = aggregate["by_hour"]
        for key, n in per_hour.items():
            label = f"{key // 1000000:04d}-{key // 10000 % 100:02d}-{key // 100 % 100:02d}T{key % 100:02d}"
            by_hour[label] = by_hour.get(label, 0) + n
        groups: defaultdict[str, list[float]] = defaultdict(list)
        for kind, value in zip(map(_type, records), map(_value, records), strict=True):
            groups[kind].append(value)
        by_type = aggregate["by_type"]
        for kind, values in groups.items():
            stats = {"count": len(values), "sum": sum(values), "min": min(values), "max": max(values)}
            _add_stats(by_type, kind, stats)
        return keys

    def partition_path(self, key: Hashable) -> str:
        hour = int(key)  # type: ignore[call-overload]
        return f"dt={hour // 1000000:04d}-{hour // 10000 % 100:02d}-{hour // 100 % 100:02d}/hour={hour % 100:02d}"

    def new_aggregate(self) -> dict[str, Any]:
        return {"by_type": {}, "by_hour": {}}

    def merge(self, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
        by_type = left.setdefault("by_type", {})
        by_hour = left.setdefault("by_hour", {})
        for kind, stats in right.get("by_type", {}).items():
            _add_stats(by_type, kind, stats)
        for hour, count in right.get("by_hour", {}).items():
            by_hour[hour] = by_hour.get(hour, 0) + count
        return left


def _add_stats(by_type: dict[str, dict[str, float]], kind: str, stats: dict[str, float]) -> None:
    into = by_type.get(kind)
    if into is None:
        by_type[kind] = dict(stats)
        return
    into["count"] += stats["count"]
    into["sum"] += stats["sum"]
    into["min"] = min(into["min"], stats["min"])
    into["max"] = max(into["max"], stats["max"])
