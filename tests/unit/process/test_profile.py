"""What the quality rules need, measured in the processor's pass, against the same figures computed
record by record: nulls, values outside a range or a set, the lag's quantiles (within a bin) and late
shares (exact), and duplicates from a key sample that adds up in any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from landfall.jobs import default_job
from landfall.jobs.events import Event
from landfall.jobs.quality import AllowedValues, DuplicateShare, Freshness, NullShare, ValueRange
from landfall.process.columnar import Source, to_batch
from landfall.process.profile import LAG_BOUNDS, LAG_POINTS, SAMPLE_KEYS, KeySample, Profile, Profiler
from landfall.table.schema import table_of

TABLE = table_of(default_job())
LANDED = datetime(2026, 11, 22, 14, tzinfo=UTC)
RULES = (
    NullShare(column="user_id", at_most=0.5),
    ValueRange(column="value", at_least=0, at_most=100, share_at_most=0.0),
    AllowedValues(column="type", values=frozenset({"click", "page_view"}), share_at_most=0.0),
    Freshness(statistic="p99", at_most=timedelta(hours=1)),
    Freshness(statistic="late_share", later_than=timedelta(hours=2), share_at_most=0.0),
    DuplicateShare(at_most=0.01),
)


def _events(rng: random.Random, count: int) -> list[Event]:
    return [
        Event(
            event_id=f"e-{rng.randrange(count * 10)}",
            ts=LANDED - timedelta(seconds=rng.expovariate(1 / 600)),
            type=rng.choice(["click", "page_view", "search"]),
            value=rng.uniform(-10, 120),
            user_id=None if rng.random() < 0.3 else "u",
        )
        for _ in range(count)
    ]


def _profile(events: list[Event], rules=RULES) -> Profile:
    batch = to_batch(TABLE, events, list(range(1, len(events) + 1)), Source("landing", "k"))
    return Profiler(TABLE, rules).profile(events, [batch], LANDED)


def test_each_measure_is_what_counting_record_by_record_gives() -> None:
    events = _events(random.Random(3), 5_000)
    profile = _profile(events)
    assert profile.rows == 5_000 and profile.nulls == {"user_id": sum(e.user_id is None for e in events)}
    assert profile.outside["outside_share.value"] == sum(not 0 <= e.value <= 100 for e in events)
    assert profile.outside["disallowed_share.type"] == sum(e.type == "search" for e in events)
    lags = sorted((LANDED - e.ts).total_seconds() for e in events)
    assert profile.late["7200s"] == sum(lag > 7200 for lag in lags)  # exact
    for share in (0.5, 0.99):  # from 1,250 of the 5,000 rows (LAG_POINTS), as its bin's upper bound
        exact, estimated = lags[int(share * len(lags)) - 1], profile.lag_quantile(share)
        assert estimated is not None and exact / 1.25 <= estimated <= 1.25**2 * max(exact, 1.0)
    few = _profile(events[:LAG_POINTS])  # every row's lag: the bound of the exact quantile's bin
    exact = sorted((LANDED - e.ts).total_seconds() for e in events[:LAG_POINTS])[int(0.99 * LAG_POINTS) - 1]
    estimated = few.lag_quantile(0.99)
    assert estimated is not None and exact <= estimated <= 1.25 * exact


def test_a_range_inside_its_bounds_counts_nothing_and_nulls_are_never_outside() -> None:
    events = [Event(event_id=str(n), ts=LANDED, type="click", value=50.0) for n in range(100)]
    assert _profile(events).outside["outside_share.value"] == 0
    assert _profile(events, ()).model_dump(exclude={"rows"}) == Profile().model_dump(exclude={"rows"})


def test_duplicates_are_exact_while_the_sample_holds_every_key() -> None:
    sample = KeySample()
    sample.add(["a", "b", "a", "c", "a"])
    assert sample.bound == 1 << 32 and sample.duplicate_share() == pytest.approx(2 / 5)


def test_a_full_sample_estimates_the_duplicate_share_and_adds_up_in_any_order() -> None:
    rng = random.Random(9)
    keys = [f"k-{n}" for n in range(60_000)]
    keys += rng.sample(keys, 1_800)  # 1,800 extra copies: 2.91 % of the rows
    rng.shuffle(keys)
    parts = [keys[i : i + 7_000] for i in range(0, len(keys), 7_000)]
    merged = []
    for order in (parts, parts[::-1]):
        run = KeySample()
        for part in order:
            piece = KeySample()
            piece.add(part)
            run.merge(piece)
        assert len(run.counts) <= SAMPLE_KEYS and run.bound < 1 << 32
        merged.append(run)
    assert merged[0] == merged[1]  # the same sample whatever the order
    share = merged[0].duplicate_share()
    assert share is not None and abs(share - 1_800 / len(keys)) < 0.015


def test_profiles_add_up() -> None:
    events = _events(random.Random(5), 2_000)
    whole = _profile(events)
    halves = _profile(events[:1_000]).merge(_profile(events[1_000:]))
    assert (halves.rows, halves.nulls, halves.outside, halves.late) == (
        whole.rows,
        whole.nulls,
        whole.outside,
        whole.late,
    )
    assert halves.lag_bins == whole.lag_bins and len(LAG_BOUNDS) == 81
