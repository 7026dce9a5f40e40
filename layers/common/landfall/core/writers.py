"""Write S3 objects from streams of bytes in bounded memory, uploading off the main thread.

`S3ObjectWriter` sends one PUT when the object is small and a multipart upload when it grows past
`single_put_bytes`; nothing is visible until `close()`, and `abort()` leaves nothing behind (it deletes what
was completed), so a failed object never leaves partial output. `Background` runs calls on one
worker thread, so that a part is on the wire while the next one is made.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from landfall.core.readable import Readable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_BYTES = 5 * 1024 * 1024  # the smallest part S3 takes (but the last)
UPLOAD_PART_BYTES = 8 * 1024 * 1024


def put_requests(size: int, part_bytes: int = PART_BYTES, single_put_bytes: int | None = None) -> int:
    """PUT-priced requests S3ObjectWriter makes for `size` bytes at most: one PUT below
    `single_put_bytes`, else create, the held bytes as the first part, the parts after it, and complete."""
    single_put_bytes = single_put_bytes or part_bytes
    if size < single_put_bytes:
        return 1
    return 2 + 1 + -(-(size - single_put_bytes) // part_bytes)


class Sink(io.RawIOBase):
    """A file a writer (Parquet's) streams into; its bytes go to `write` (an S3ObjectWriter's)."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._write(bytes(data))
        return len(data)


class S3ObjectWriter:
    """Up to `single_put_bytes` (default: `part_bytes`) are held for one PUT; past that, what is held
    goes as the first part of a multipart upload, and `part_bytes` after it.
    `uploads`: where parts are sent (e.g. a Background shared by an object's writers), so that
    the next part is made while the last one is on the wire; inline when None."""

    def __init__(
        self,
        s3_client: S3Client,
        bucket: str,
        key: str,
        part_bytes: int = PART_BYTES,
        uploads: Background | None = None,
        single_put_bytes: int | None = None,
    ) -> None:
        self.s3, self.bucket, self.key, self.part_bytes = s3_client, bucket, key, part_bytes
        self.single_put_bytes = single_put_bytes or part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._uploads = uploads
        self._completed = False
        self.bytes_written = 0

    @property
    def requests(self) -> int:
        """PUT-priced requests: one PUT, or create + parts + complete."""
        return 1 if self._upload_id is None else len(self._parts) + 2

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= (self.part_bytes if self._upload_id else self.single_put_bytes):
            self._upload_part()

    def _upload_part(self) -> None:
        upload_id = self._upload_id
        if upload_id is None:
            upload_id = self._upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        part: CompletedPartTypeDef = {"PartNumber": len(self._parts) + 1}
        self._parts.append(part)
        body, self._buffer = self._buffer, bytearray()  # hand the part over: no copy
        if self._uploads is None:
            self._send(upload_id, part, body)
        else:
            self._uploads.submit(self._send, upload_id, part, body)

    def _send(self, upload_id: str, part: CompletedPartTypeDef, body: bytearray) -> None:
        response = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=part["PartNumber"], Body=_bytes(body)
        )
        part["ETag"] = response["ETag"]

    def close(self) -> None:
        if self._upload_id is None:
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=_bytes(self._buffer))
        else:
            if self._buffer:
                self._upload_part()
            if self._uploads is not None:
                self._uploads.drain()
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        self._buffer = bytearray()
        self._completed = True

    def abort(self) -> None:
        if self._uploads is not None:
            self._uploads.close()
        if self._completed:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key)
            self._completed = False
        elif self._upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
        self._upload_id = None
        self._buffer.clear()


def _bytes(buffer: bytearray) -> bytes:
    """botocore sends a bytearray as it is; the S3 stubs name bytes, and bytes() would copy a part."""
    return cast("bytes", buffer)


def upload_file(
    s3_client: S3Client, body: Readable, bucket: str, key: str, part_bytes: int = UPLOAD_PART_BYTES
) -> None:
    """A (spooled) file to S3 from where it stands, in bounded memory: one PUT, or a multipart upload
    past `part_bytes` (what boto3's upload_fileobj does, without boto3 and s3transfer to import)."""
    writer = S3ObjectWriter(s3_client, bucket, key, part_bytes)
    try:
        while chunk := body.read(1 << 20):  # 1 MiB at a time: the part is the only copy held
            writer.write(chunk)
        writer.close()
    except BaseException:
        writer.abort()
        raise


class Background:
    """One worker thread running calls in order, at most `backlog` queued (memory stays bounded);
    or, not `threaded`, each call at once."""

    def __init__(self, backlog: int = 8, threaded: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landfall-output") if threaded else None
        self._pending: deque[Future[Any]] = deque()
        self._backlog = backlog

    def submit(self, call: Callable[..., Any], *args: Any) -> None:
        if self._pool is None:
            call(*args)
            return
        self._pending.append(self._pool.submit(call, *args))
        while len(self._pending) > self._backlog:
            self._pending.popleft().result()  # raises what the call raised

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
