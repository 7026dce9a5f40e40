"""The default job's sample data: synthetic Firehose output of application events, some lines bad.

Two parts: what the lines hold (`event_lines`: the default job's events, and the bad lines it must
reject: cut JSON, schema violations, invalid UTF-8) and the shape Firehose gives objects
(`make_dataset`: keys in its `YYYY/MM/DD/HH/<stream>-…` layout, gzip, multi-member when it appends,
five minutes of events each). The demo, the tests and the benchmarks use it, so all of them exercise
the same realistic shapes; the library never imports it (pyproject.toml's contracts). It needs the
standard library only: the layer ships it and gains no dependency.
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import get_args

from landfall.jobs.events import EventType

EVENT_TYPES = get_args(EventType)  # the default job's, so that every synthetic type is one it accepts

BAD_LINES = (
    b'{"event_id": "x", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": ',  # cut JSON
    b'{"event_id": "x", "ts": "2026-11-22T13:00:00Z", "type": "teleport", "value": 1}',  # unknown type
    b'{"event_id": "x", "ts": "yesterday", "type": "click", "value": 1}',  # bad timestamp
    b'{"event_id": "x", "ts": "2026-11-22T13:00:00Z", "type": "click"}',  # value missing
    b'{"event_id": "\xff\xfe", "ts": "2026-11-22T13:00:00Z", "type": "click", "value": 1}',  # not UTF-8
    b"not json at all",
)


@dataclass
class LandedObject:
    key: str
    body: bytes
    records: int
    bad: int


@dataclass
class Dataset:
    objects: list[LandedObject] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects)

    @property
    def bad(self) -> int:
        return sum(o.bad for o in self.objects)


def firehose_key(stream: str, moment: datetime, rng: random.Random, prefix: str = "raw/") -> str:
    """`<prefix>YYYY/MM/DD/HH/<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>.gz`, as Firehose names objects."""
    return (
        f"{prefix}{moment:%Y/%m/%d/%H}/{stream}-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.UUID(int=rng.getrandbits(128))}.gz"
    )


def event_lines(
    rng: random.Random, count: int, start: datetime, bad_ratio: float, spread_s: int = 300
) -> Iterator[tuple[bytes, bool]]:
    """`count` lines; each is bad with probability `bad_ratio`. Yields (line, is_bad).

    Event times fall within `spread_s` seconds before `start`, as in a Firehose buffer, and 1 % of
    the events arrive up to two hours late.
    """
    for n in range(count):
        if rng.random() < bad_ratio:
            yield rng.choice(BAD_LINES), True
            continue
        late = rng.randrange(7200) if rng.random() < 0.01 else 0
        moment = start - timedelta(seconds=rng.randrange(spread_s) + late, milliseconds=rng.randrange(1000))
        event = {
            "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "type": rng.choice(EVENT_TYPES),
            "user_id": f"u-{rng.randrange(100_000)}",
            "value": round(rng.uniform(0, 500), 2),
            "props": {"path": f"/p/{rng.randrange(50)}", "n": n},
        }
        yield json.dumps(event, separators=(",", ":")).encode(), False


def make_dataset(
    objects: int = 40,
    records: int = 2000,
    bad_ratio: float = 0.01,
    seed: int = 7,
    stream: str = "landfall-demo",
    start: datetime | None = None,
) -> Dataset:
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 22, 12, tzinfo=UTC)
    dataset = Dataset()
    for index in range(objects):
        moment = start + timedelta(minutes=5 * index)
        lines = list(event_lines(rng, records, moment, bad_ratio))
        payload = [line for line, _ in lines]
        half = len(payload) // 2
        if index % 3 == 0:  # Firehose concatenates gzip members: read them all
            body = gzip.compress(b"\n".join(payload[:half]) + b"\n") + gzip.compress(b"\n".join(payload[half:]) + b"\n")
        else:
            body = gzip.compress(b"\n".join(payload) + b"\n")
        dataset.objects.append(
            LandedObject(
                key=firehose_key(stream, moment, rng),
                body=body,
                records=len(lines),
                bad=sum(1 for _, bad in lines if bad),
            )
        )
    return dataset
