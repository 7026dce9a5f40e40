"""pyiceberg's file access through the functions' own S3 client.

pyiceberg's S3 access comes from pyarrow (164 MB, over Lambda's layer budget beside pyiceberg) or
s3fs (44 MB more, a second botocore). The commit reads and writes only small metadata files (metadata
JSON, manifest lists, manifests), whole: a GET or a PUT each, through the client every other stage
uses, so the emulator sees them like any other request.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile, OutputStream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _bucket_key(location: str) -> tuple[str, str]:
    parts = urlsplit(location)
    if parts.scheme not in ("s3", "s3a", "s3n"):
        raise ValueError(f"not an S3 location: {location}")
    return parts.netloc, parts.path.lstrip("/")


def _missing(error: Exception) -> bool:
    response: dict[str, Any] = getattr(error, "response", {})
    return response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3InputFile(InputFile):
    def __init__(self, s3: S3Client, location: str) -> None:
        super().__init__(location)
        self._s3 = s3
        self._bucket, self._key = _bucket_key(location)

    def __len__(self) -> int:
        return self._s3.head_object(Bucket=self._bucket, Key=self._key)["ContentLength"]

    def exists(self) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=self._key)
        except self._s3.exceptions.ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def open(self, seekable: bool = True) -> InputStream:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=self._key)["Body"].read()
        except self._s3.exceptions.ClientError as error:
            if _missing(error):
                raise FileNotFoundError(self.location) from error
            raise
        return io.BytesIO(body)


class _Upload(io.BytesIO):
    """Bytes held until `close`, then one PUT (If-None-Match unless overwriting: a metadata file is never
    replaced behind a concurrent writer's back)."""

    def __init__(self, s3: S3Client, bucket: str, key: str, overwrite: bool) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._overwrite = s3, bucket, key, overwrite

    def close(self) -> None:
        if not self.closed:
            body = self.getvalue()
            if self._overwrite:
                self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=body)
            else:
                self._put_new(body)
        super().close()

    def _put_new(self, body: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=body, IfNoneMatch="*")
        except self._s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise FileExistsError(f"s3://{self._bucket}/{self._key}") from error
            raise


class S3OutputFile(OutputFile):
    def __init__(self, s3: S3Client, location: str) -> None:
        super().__init__(location)
        self._s3 = s3
        self._bucket, self._key = _bucket_key(location)

    def __len__(self) -> int:
        return len(self.to_input_file())

    def exists(self) -> bool:
        return self.to_input_file().exists()

    def to_input_file(self) -> S3InputFile:
        return S3InputFile(self._s3, self.location)

    def create(self, overwrite: bool = False) -> OutputStream:
        return _Upload(self._s3, self._bucket, self._key, overwrite)


class S3FileIO(FileIO):
    def __init__(self, s3: S3Client) -> None:
        super().__init__({})
        self._s3 = s3

    def new_input(self, location: str) -> S3InputFile:
        return S3InputFile(self._s3, location)

    def new_output(self, location: str) -> S3OutputFile:
        return S3OutputFile(self._s3, location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        bucket, key = _bucket_key(path)
        self._s3.delete_object(Bucket=bucket, Key=key)
