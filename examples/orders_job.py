"""A job of your own: orders, their revenue per currency, partitioned by day.

    {"order_id": "o-1", "ts": "2026-11-22T13:05:00Z", "amount": 12.5, "currency": "EUR"}

The `Order` struct is the only declaration of a record: it validates every line, and the curated
table `orders` (its columns, the catalog's and the docs') comes from it, with one row per `order_id`
in the `orders_unique` view. `RecordJob` decodes, rejects and partitions; the aggregate's sums merge
by themselves. Deploy it from its own folder: copy this file into `jobs/` and set the template's `Job`
parameter to `orders_job:OrdersJob` (`sam build && sam deploy --parameter-overrides Job=orders_job:OrdersJob`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec

from landfall.jobs import DAILY, AggregateTable, Drift, DuplicateShare, Freshness, RecordJob, ValueRange


class Order(msgspec.Struct, gc=False):
    order_id: Annotated[str, msgspec.Meta(description="the shop's order id")]
    ts: Annotated[datetime, msgspec.Meta(tz=True, description="when the order was placed, in UTC")]
    amount: Annotated[float, msgspec.Meta(ge=0, le=1e12, description="the order's total")]
    currency: Annotated[Literal["EUR", "USD", "GBP"], msgspec.Meta(description="EUR, USD or GBP")]


class OrdersJob(RecordJob):
    name = "orders"
    record_type = Order
    partitioning = DAILY
    record_key = "order_id"
    # What a healthy run of orders looks like: an order twice is a double charge (the run fails); an
    # amount beyond what the shop sells, or a day's volume far from the usual, is looked into.
    quality = (
        DuplicateShare(at_most=0.0, severity="fail"),
        ValueRange(column="amount", at_least=0.5, at_most=20_000, share_at_most=0.001),
        Freshness(statistic="p99", at_most=timedelta(hours=1)),
        Drift(of="rows", runs=30, deviations=4.0, name="order volume"),
    )

    def fold(self, aggregate: dict[str, Any], records: Sequence[Order]) -> list[int]:
        revenue: defaultdict[str, float] = defaultdict(float)
        for order in records:
            revenue[order.currency] += order.amount
        for currency, amount in revenue.items():
            aggregate["revenue"][currency] = aggregate["revenue"].get(currency, 0.0) + amount
        days, per_day = DAILY.keys([order.ts.astimezone(UTC) for order in records])
        for day, count in per_day.items():
            label = DAILY.path(day).removeprefix("dt=")
            aggregate["orders_per_day"][label] = aggregate["orders_per_day"].get(label, 0) + count
        return days

    def new_aggregate(self) -> dict[str, Any]:
        return {"revenue": {}, "orders_per_day": {}}

    def describe(self, aggregate: dict[str, Any]) -> list[AggregateTable]:
        return [
            AggregateTable(
                title="Revenue per currency",
                columns=["currency", "revenue"],
                rows=[[c, round(v, 2)] for c, v in sorted(aggregate.get("revenue", {}).items())],
            ),
            AggregateTable(
                title="Orders per UTC day",
                columns=["day", "orders"],
                rows=[[d, n] for d, n in sorted(aggregate.get("orders_per_day", {}).items())],
            ),
        ]
