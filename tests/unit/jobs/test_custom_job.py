"""The README's example job runs through the unchanged processor and reducer."""

import gzip

import pytest

from examples.orders_job import OrdersJob
from landfall.ingest.messages import ManifestItem
from landfall.jobs import load_job
from landfall.process.messages import BatchInput, ProcessorEvent
from landfall.process.processing import process_batch
from landfall.process.settings import ProcessorSettings

ORDERS = [
    b'{"order_id":"o-1","ts":"2026-11-22T13:05:00Z","amount":12.5,"currency":"EUR"}',
    b'{"order_id":"o-2","ts":"2026-11-23T00:10:00Z","amount":7.5,"currency":"EUR"}',
    b'{"order_id":"o-3","ts":"2026-11-22T18:00:00Z","amount":-1,"currency":"USD"}',
    b'{"order_id":"o-4","ts":"2026-11-22T19:00:00Z","amount":3,"currency":"USD"}',
]


def test_a_job_is_loaded_by_name():
    assert isinstance(load_job("examples.orders_job:OrdersJob"), OrdersJob)
    with pytest.raises(ValueError, match="module:"):
        load_job("examples.orders_job")


def test_the_example_job_runs_through_the_processor(s3):
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="pipeline")
    s3.put_object(Bucket="landing", Key="raw/orders.gz", Body=gzip.compress(b"\n".join(ORDERS)))
    event = ProcessorEvent(
        BatchInput=BatchInput(run_id="r", output_bucket="pipeline"),
        Items=[ManifestItem(bucket="landing", key="raw/orders.gz", size=100)],
    )
    summary = process_batch(event, s3, ProcessorSettings(), load_job("examples.orders_job:OrdersJob"))
    (obj,) = summary.objects
    assert (obj.valid, obj.rejected, obj.rejected_by_reason) == (3, 1, {"schema": 1})
    assert summary.aggregates == {
        "revenue": {"EUR": 20.0, "USD": 3.0},
        "orders_per_day": {"2026-11-22": 2, "2026-11-23": 1},
    }
    assert obj.rows_by_partition == {"dt=2026-11-22": 2, "dt=2026-11-23": 1}
    assert [(file.key.split("/")[1:5], file.rows) for file in summary.files] == [  # the job's table, by day
        (["orders", "data", "r", "dt=2026-11-22"], 2),
        (["orders", "data", "r", "dt=2026-11-23"], 1),
    ]
