"""A spooled file reaches S3 whole, in one PUT or in parts, and a failure leaves nothing behind."""

import io

import pytest

from landfall.writers import upload_file


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="out")
    return s3


class Counting:
    """The client, with the calls made through it counted."""

    def __init__(self, s3, fail_at_part: int | None = None) -> None:
        self.s3, self.calls, self.fail_at_part = s3, [], fail_at_part

    def __getattr__(self, name):
        def call(**kwargs):
            self.calls.append(name)
            if name == "upload_part" and kwargs["PartNumber"] == self.fail_at_part:
                raise ConnectionError("the network went away")
            return getattr(self.s3, name)(**kwargs)

        return call


def test_a_small_file_is_one_put_and_a_large_one_a_multipart_upload_of_the_same_bytes(bucket):
    small, large = b"x" * 1000, bytes(range(256)) * (12 * 1024 * 1024 // 256 + 7)
    for body, calls in ((small, ["put_object"]),
                        (large, ["create_multipart_upload", "upload_part", "upload_part", "upload_part",
                                 "complete_multipart_upload"])):  # fmt: skip
        client = Counting(bucket)
        upload_file(client, io.BytesIO(body), "out", "k", part_bytes=5 * 1024 * 1024)
        assert client.calls == calls
        assert bucket.get_object(Bucket="out", Key="k")["Body"].read() == body


def test_a_failed_upload_leaves_no_object_and_no_parts(bucket):
    client = Counting(bucket, fail_at_part=2)
    with pytest.raises(ConnectionError):
        upload_file(client, io.BytesIO(b"y" * (11 * 1024 * 1024)), "out", "k", part_bytes=5 * 1024 * 1024)
    assert "abort_multipart_upload" in client.calls
    assert "Contents" not in bucket.list_objects_v2(Bucket="out")
    assert bucket.list_multipart_uploads(Bucket="out").get("Uploads", []) == []
