"""Read an S3 object (version) in order, in bounded memory, and overlap its reading with the decoding.

Powertools `S3Object` is the transport (ranged GETs; ZIP archives seek); `read_ahead` inflates on a
second thread while the processor decodes. What the bytes hold is `compression`'s and `framing`'s.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.streaming import S3Object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class _ObjectCalls:
    """The calls S3Object makes, bound to our client and counted (both are GET-priced requests).

    Given the client itself, S3Object registers one more User-Agent handler on it for every object;
    on the warm client of an execution environment every request would then run one handler per
    object ever read."""

    __slots__ = ("_client", "last_modified", "requests")

    def __init__(self, s3_client: S3Client) -> None:
        self._client = s3_client
        self.requests = 0
        self.last_modified: datetime | None = None  # when the object landed: its records' lag is measured from it

    def get_object(self, **kwargs: Any) -> Any:
        self.requests += 1
        response = self._client.get_object(**kwargs)
        self.last_modified = response.get("LastModified", self.last_modified)
        return response

    def head_object(self, **kwargs: Any) -> Any:
        self.requests += 1
        return self._client.head_object(**kwargs)


class ObjectSource:
    """One object (version) in S3: read in order through one GET, or sought (each seek that moves is
    a ranged GET: ZIP reads its directory at the end). Counts the bytes and requests it costs."""

    def __init__(self, s3_client: S3Client, bucket: str, key: str, version_id: str | None = None) -> None:
        self._calls = _ObjectCalls(s3_client)
        client = cast("S3Client", self._calls)  # S3Object calls get_object and head_object alone
        self._object = S3Object(bucket=bucket, key=key, version_id=version_id, boto3_client=client)
        self.bytes_read = 0

    @property
    def requests(self) -> int:
        return self._calls.requests

    @property
    def last_modified(self) -> datetime | None:
        """When the object landed in S3 (known once its first GET answered)."""
        return self._calls.last_modified

    def read(self, size: int = -1, /) -> bytes:
        data = self._object.read(size)
        self.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._object.seek(offset, whence)

    def tell(self) -> int:
        return self._object.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._object.close()


_END = object()


def read_ahead(items: Iterable[bytes], depth: int = 2) -> Generator[bytes]:
    """`items`, produced on a thread of their own up to `depth` ahead of the consumer.

    For a producer that releases the GIL (socket reads, ISA-L inflate), its work overlaps the
    consumer's on a second core. What it raises is raised here, in order; memory stays bounded by
    `depth` items; closing this iterator early stops the thread.
    """
    producer = _Producer(iter(items), depth)
    worker = threading.Thread(target=producer.run, name="landfall-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := producer.handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        producer.stop.set()
        worker.join()


class _Producer:
    """The read-ahead thread's side: it hands items (then the end, or what it raised) over."""

    def __init__(self, source: Iterator[bytes], depth: int) -> None:
        self.source = source
        self.handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()

    def offer(self, item: Any) -> bool:
        """Hand `item` over; False if the consumer stopped first."""
        while not self.stop.is_set():
            try:
                self.handoff.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def run(self) -> None:
        try:
            for item in self.source:
                if not self.offer(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            self.offer(error)
        else:
            self.offer(_END)
        finally:
            if close := getattr(self.source, "close", None):
                close()  # e.g. the S3 response of an object left unfinished
