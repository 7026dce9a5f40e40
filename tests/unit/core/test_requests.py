"""Requests counted as AWS bills them, for a run's cost: by price class, only within the block, and
never twice on a warm function's clients."""

from __future__ import annotations

import boto3

from landfall.core.requests import PricedRequests, counting


def test_requests_are_counted_by_their_price_and_only_within_the_block(s3) -> None:
    s3.create_bucket(Bucket="counted")
    glue = boto3.client("glue", region_name="us-east-1")
    with counting(s3, glue) as requests:
        s3.put_object(Bucket="counted", Key="k", Body=b"x")  # PUT-priced
        s3.list_objects_v2(Bucket="counted")  # LIST: PUT-priced
        s3.get_object(Bucket="counted", Key="k")
        s3.head_object(Bucket="counted", Key="k")  # GET-priced, as all other requests
        s3.delete_object(Bucket="counted", Key="k")  # free
        glue.get_databases()
    s3.list_buckets()  # after the block: not counted
    assert requests.priced() == PricedRequests(s3_gets=2, s3_puts=2, glue=1)


def test_a_warm_client_counted_again_counts_each_request_once(s3) -> None:
    s3.create_bucket(Bucket="counted")
    for _ in range(3):  # as three invocations of one warm function, its client built once
        with counting(s3) as requests:
            s3.put_object(Bucket="counted", Key="k", Body=b"x")
        assert requests.priced() == PricedRequests(s3_puts=1)
    with counting(s3) as outer, counting(s3) as inner:  # two counters at once: each sees the request
        s3.get_object(Bucket="counted", Key="k")
    assert outer.priced() == inner.priced() == PricedRequests(s3_gets=1)
