"""The default job: application events (clickstream / telemetry) as Firehose streams carry them.

    {"event_id": "5f0c…", "ts": "2026-11-22T13:05:00.123Z", "type": "page_view", "user_id": "u-42",
     "value": 1.5, "props": {"path": "/"}}

Required: event_id (string), ts (RFC 3339 with an offset), type (one of EVENT_TYPES), value (a number
within ±VALUE_LIMIT, so that no sum of values a run could hold overflows to infinity).
Optional: user_id (string), props (a JSON object, kept in the table as JSON text as it came).
Unknown fields are allowed, and not in the table (the raw object keeps them).
Aggregates: count, sum, min and max of value per type; record count per UTC hour.
Partitions: the event's UTC date and hour. One row per event_id in the `events_unique` view.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec

from landfall.jobs import (
    HOURLY,
    AggregateTable,
    Drift,
    Freshness,
    NullShare,
    RecordJob,
    RecordRejected,
    RowCount,
)

EventType = Literal[
    "page_view",
    "click",
    "add_to_cart",
    "purchase",
    "search",
    "signup",
    "login",
    "logout",
    "share",
    "error",
]

VALUE_LIMIT = 1e15


class Event(msgspec.Struct, gc=False):
    event_id: Annotated[str, msgspec.Meta(description="the producer's id of the event; a duplicate repeats it")]
    ts: Annotated[datetime, msgspec.Meta(tz=True, description="when the event happened, in UTC")]
    type: Annotated[
        EventType,
        msgspec.Meta(
            description="page_view, click, add_to_cart, purchase, search, signup, login, logout, share or error"
        ),
    ]
    value: Annotated[float, msgspec.Meta(ge=-VALUE_LIMIT, le=VALUE_LIMIT, description="a number within ±10¹⁵")]
    user_id: Annotated[str | None, msgspec.Meta(description="who, if known")] = None
    props: Annotated[msgspec.Raw, msgspec.Meta(description="a JSON object, as it came")] = msgspec.Raw()


_ts = attrgetter("ts")
_type = attrgetter("type")
_value = attrgetter("value")
_props = attrgetter("props")
_tzinfo = attrgetter("tzinfo")
# a props line that is not an object: neither `{…}`, `null` nor absent (the empty line)
_NOT_AN_OBJECT = re.compile(rb"^(?!\{|null$|$)", re.MULTILINE)
_JSON_TYPES = {ord("["): "array", ord('"'): "str", ord("t"): "bool", ord("f"): "bool"}


def _not_an_object(props: bytes) -> str:
    return f"Expected `object`, got `{_JSON_TYPES.get(props[0], 'number')}`"


class EventsJob(RecordJob):
    """What differs from a plain record job: `props` must be a JSON object (msgspec keeps it as raw text,
    unchecked), and the aggregate holds minimums and maximums, which do not merge by adding."""

    name = "events"
    record_type = Event
    partitioning = HOURLY
    record_key = "event_id"
    # A healthy run of application events (landfall.jobs.quality): each breach warns the run. The lag is
    # from an event's time to its arrival at Firehose (the time in the object's name).
    quality = (
        RowCount(at_least=1),  # rejected lines are warned of by the run's RejectedWarningPercentage
        NullShare(column="user_id", at_most=0.5),
        # no DuplicateShare: hashing every event_id costs ~6 % of the processor's speed (docs/jobs.md), and
        # the events_unique view keeps one row per event_id whatever Firehose delivered twice
        Freshness(statistic="p99", at_most=timedelta(hours=6)),
        Freshness(statistic="late_share", later_than=timedelta(hours=6), share_at_most=0.01),
        Drift(of="rows", runs=20, deviations=3.0),  # a tenth of the usual events, or ten times
        Drift(of="null_share.user_id", runs=20, deviations=3.0),
    )

    def decode_lines(self, data: bytes) -> list[Event]:
        events = super().decode_lines(data)
        joined = b"\n".join(map(_props, events))
        if joined.count(b"\n{") + joined.startswith(b"{") == len(events):  # every props an object: in C
            return events
        if (found := _NOT_AN_OBJECT.search(joined)) is not None:  # in msgspec's words: the processor finds the line
            index = joined.count(b"\n", 0, found.start())
            raise msgspec.ValidationError(f"{_not_an_object(bytes(events[index].props))} - at `$[{index}].props`")
        return events

    def decode(self, line: bytes) -> Event:
        event: Event = super().decode(line)
        props = bytes(event.props)
        if props and props[0] != ord("{") and props != b"null":
            raise RecordRejected("schema", f"{_not_an_object(props)} - at `$.props`")
        return event

    def fold(self, aggregate: dict[str, Any], records: Sequence[Event]) -> list[int]:
        stamps = list(map(_ts, records))
        count = len(stamps)
        if list(map(_tzinfo, stamps)).count(UTC) != count:  # offsets other than Z are rare
            stamps = [stamp.astimezone(UTC) for stamp in stamps]
        keys, per_hour = HOURLY.keys(stamps)
        by_hour = aggregate["by_hour"]
        for key, n in per_hour.items():
            label = HOURLY.label(key)
            by_hour[label] = by_hour.get(label, 0) + n
        groups: defaultdict[str, list[float]] = defaultdict(list)
        for kind, value in zip(map(_type, records), map(_value, records), strict=True):
            groups[kind].append(value)
        by_type = aggregate["by_type"]
        for kind, values in groups.items():
            stats = {"count": len(values), "sum": sum(values), "min": min(values), "max": max(values)}
            _add_stats(by_type, kind, stats)
        return keys

    def new_aggregate(self) -> dict[str, Any]:
        return {"by_type": {}, "by_hour": {}}

    def describe(self, aggregate: dict[str, Any]) -> list[AggregateTable]:
        by_type = sorted(aggregate.get("by_type", {}).items())
        by_hour = sorted(aggregate.get("by_hour", {}).items())
        return [
            AggregateTable(
                title="Events per type",
                columns=["type", "events", "sum of value", "min", "max"],
                rows=[[kind, s["count"], round(s["sum"], 2), s["min"], s["max"]] for kind, s in by_type],
            ),
            AggregateTable(
                title="Events per UTC hour", columns=["hour", "events"], rows=[[hour, count] for hour, count in by_hour]
            ),
        ]

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
