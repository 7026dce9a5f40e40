"""The requests a function's clients make, counted as AWS bills them, for a run's cost.

A counter listens on the clients' own botocore events while it is open and stops listening when it
closes, so a warm function's clients (built once, `core.clients`) are never counted twice.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

# S3's PUT, COPY, POST and LIST requests share one price; GET and every other request (HEAD) another;
# DELETE is free (https://aws.amazon.com/s3/pricing/).
S3_PUT_PRICED = frozenset(
    {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "ListObjectsV2"}
)
S3_FREE = frozenset({"DeleteObject", "DeleteObjects", "AbortMultipartUpload"})
_ids = itertools.count()


class PricedRequests(BaseModel):
    """Requests by how they are priced."""

    s3_gets: int = 0
    s3_puts: int = 0
    glue: int = 0

    def __add__(self, other: PricedRequests) -> PricedRequests:
        return PricedRequests(
            s3_gets=self.s3_gets + other.s3_gets, s3_puts=self.s3_puts + other.s3_puts, glue=self.glue + other.glue
        )


class RequestCounter:
    """Requests by service and operation."""

    def __init__(self) -> None:
        self.made: Counter[tuple[str, str]] = Counter()

    def priced(self) -> PricedRequests:
        s3 = Counter({name: count for (service, name), count in self.made.items() if service == "s3"})
        puts = sum(count for name, count in s3.items() if name in S3_PUT_PRICED)
        free = sum(count for name, count in s3.items() if name in S3_FREE)
        glue = sum(count for (service, _), count in self.made.items() if service == "glue")
        return PricedRequests(s3_gets=s3.total() - puts - free, s3_puts=puts, glue=glue)


@contextmanager
def counting(*clients: Any) -> Iterator[RequestCounter]:
    """Count the requests `clients` make within the block (a retried request counts each attempt's
    call once: botocore's `before-call` fires once per API call)."""
    counter, unique = RequestCounter(), f"landfall-requests-{next(_ids)}"
    for client in clients:
        service = client.meta.service_model.service_name

        def count(model: Any, service: str = service, **_: Any) -> None:
            counter.made[(service, model.name)] += 1

        client.meta.events.register("before-call.*.*", count, unique_id=f"{unique}-{service}")
    try:
        yield counter
    finally:
        for client in clients:
            service = client.meta.service_model.service_name
            client.meta.events.unregister("before-call.*.*", unique_id=f"{unique}-{service}")
