"""The default job: application events (clickstream / telemetry) as Firehose streams carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from landfall.jobs import RecordRejected

EventType = Literal[
    "page_view", "click", "add_to_cart", "purchase", "search",
    "signup", "login", "logout", "share", "error",
]  # fmt: skip


class Event(msgspec.Struct):
    """Only the fields the job needs are declared; unknown fields are allowed and ignored."""

    event_id: str
    ts: datetime
    type: EventType
    value: float
    user_id: str | None = None
    props: dict[str, Any] | None = None


_decoder = msgspec.json.Decoder(Event)


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class EventsJob:
    name = "events"

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
        if event.ts.tzinfo is None:
            raise RecordRejected("schema", "timestamp has no UTC offset - at `$.ts`")
        if event.ts.utcoffset():
            event.ts = event.ts.astimezone(UTC)
        return event

    def partition(self, record: Event) -> str:
        return record.ts.strftime("dt=%Y-%m-%d/hour=%H")

    def new_aggregate(self) -> dict[str, Any]:
        return {"by_type": {}, "by_hour": {}}

    def add(self, aggregate: dict[str, Any], record: Event) -> None:
        stats = aggregate["by_type"].get(record.type)
        if stats is None:
            aggregate["by_type"][record.type] = {
                "count": 1, "sum": record.value, "min": record.value, "max": record.value,
            }  # fmt: skip
        else:
            stats["count"] += 1
            stats["sum"] += record.value
            stats["min"] = min(stats["min"], record.value)
            stats["max"] = max(stats["max"], record.value)
        hour = record.ts.strftime("%Y-%m-%dT%H")
        aggregate["by_hour"][hour] = aggregate["by_hour"].get(hour, 0) + 1

    def merge(self, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
        merged = self.new_aggregate()
        for source in (left, right):
            for kind, stats in source.get("by_type", {}).items():
                into = merged["by_type"].get(kind)
                if into is None:
                    merged["by_type"][kind] = dict(stats)
                else:
                    into["count"] += stats["count"]
                    into["sum"] += stats["sum"]
                    into["min"] = min(into["min"], stats["min"])
                    into["max"] = max(into["max"], stats["max"])
            for hour, count in source.get("by_hour", {}).items():
                merged["by_hour"][hour] = merged["by_hour"].get(hour, 0) + count
        return merged
