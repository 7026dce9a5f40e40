"""How curated records are partitioned: by the UTC hour or day of their event time.

A partitioning owns its key (an int such as 2026112213), the path of a key (Hive-style,
`dt=2026-11-22/hour=13`: where a partition's data files go), the Iceberg transform that partitions
the table (`hour(ts)`, `day(ts)`) with each path's value under it (`ordinal`), and the Hive partition
columns with their Athena projection (for tables written before Iceberg). The job's `fold` computes
keys with `keys()`, in C-speed passes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Protocol

# Projected dates start here and end a day after today (clocks run ahead); records outside the range
# are in the files but not in Athena's partitions (a job may choose another start).
FIRST_DAY = "2020-01-01"
_hour = attrgetter("hour")
_hour_key = attrgetter("year", "month", "day", "hour")
_day_key = attrgetter("year", "month", "day")


@dataclass(frozen=True)
class PartitionColumn:
    """A partition column: always a string in the catalog, as its path has it; `projection` holds its
    Athena partition projection properties (without the `projection.<name>.` prefix)."""

    name: str
    description: str
    projection: dict[str, str] = field(hash=False)


class Partitioning(Hashable, Protocol):
    @property
    def columns(self) -> tuple[PartitionColumn, ...]:
        """The partition columns, in the order of the path."""

    @property
    def transform(self) -> str:
        """The Iceberg transform of the event time that partitions the table: `hour` or `day`."""

    @property
    def column(self) -> str | None:
        """The event-time column the transform reads (None: the table's only timestamp column)."""

    def path(self, key: Hashable) -> str:
        """The partition of a key, like `dt=2026-11-22/hour=13`: the column names in order."""

    def ordinal(self, path: str) -> int:
        """A path's partition value under the transform: hours (or days) since 1970-01-01 UTC."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _path_values(path: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in path.split("/"))


def _date_column(first_day: str) -> PartitionColumn:
    projection = {
        "type": "date",
        "format": "yyyy-MM-dd",
        "range": f"{first_day},NOW+1DAYS",
        "interval": "1",
        "interval.unit": "DAYS",
    }
    return PartitionColumn("dt", "UTC date of the event time (yyyy-MM-dd)", projection)


@dataclass(frozen=True)
class Hourly:
    """Keys are YYYYMMDDHH ints of UTC event times."""

    first_day: str = FIRST_DAY
    column: str | None = None
    transform = "hour"

    def ordinal(self, path: str) -> int:
        values = _path_values(path)
        start = datetime.fromisoformat(values["dt"]).replace(hour=int(values["hour"]), tzinfo=UTC)
        return int((start - _EPOCH).total_seconds()) // 3600

    @property
    def columns(self) -> tuple[PartitionColumn, ...]:
        hour = PartitionColumn(
            "hour", "UTC hour of the event time (00-23)", {"type": "integer", "range": "0,23", "digits": "2"}
        )
        return (_date_column(self.first_day), hour)

    def path(self, key: Hashable) -> str:
        hour = int(key)  # type: ignore[call-overload]
        return f"dt={hour // 1000000:04d}-{hour // 10000 % 100:02d}-{hour // 100 % 100:02d}/hour={hour % 100:02d}"

    @staticmethod
    def label(key: int) -> str:
        """A key as an aggregate names an hour: `2026-11-22T13`."""
        return f"{key // 1000000:04d}-{key // 10000 % 100:02d}-{key // 100 % 100:02d}T{key % 100:02d}"

    @staticmethod
    def keys(stamps: Sequence[datetime]) -> tuple[list[int], dict[int, int]]:
        """Each UTC stamp's key, and how many share each key (a block of Firehose records usually spans
        an hour or two of one day, which the fast paths below count without a loop in Python)."""
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


@dataclass(frozen=True)
class Daily:
    """Keys are YYYYMMDD ints of UTC event times."""

    first_day: str = FIRST_DAY
    column: str | None = None
    transform = "day"

    def ordinal(self, path: str) -> int:
        return (date.fromisoformat(_path_values(path)["dt"]) - _EPOCH.date()).days

    @property
    def columns(self) -> tuple[PartitionColumn, ...]:
        return (_date_column(self.first_day),)

    def path(self, key: Hashable) -> str:
        day = int(key)  # type: ignore[call-overload]
        return f"dt={day // 10000:04d}-{day // 100 % 100:02d}-{day % 100:02d}"

    @staticmethod
    def keys(stamps: Sequence[datetime]) -> tuple[list[int], dict[int, int]]:
        keys = [(y * 100 + m) * 100 + d for y, m, d in map(_day_key, stamps)]
        return keys, Counter(keys)


HOURLY = Hourly()
DAILY = Daily()
