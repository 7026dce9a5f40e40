"""A spooled file reaches S3 whole, in one PUT or in parts, and a failure leaves nothing behind; a
writer holds up to its single-PUT size before it starts parts."""

import io
import os

import pytest

from landfall.core.writers import S3ObjectWriter, put_requests, upload_file


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
    for body, calls in (
        (small, ["put_object"]),
        (large, ["create_multipart_upload", "upload_part", "upload_part", "upload_part", "complete_multipart_upload"]),
    ):
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


MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "calls"),
    [
        (20 * MiB, ["put_object"]),  # below the single-PUT size: one request where parts took five
        (
            41 * MiB,
            ["create_multipart_upload", "upload_part", "upload_part", "upload_part", "complete_multipart_upload"],
        ),
    ],
)
def test_a_writer_holds_up_to_its_single_put_size_then_sends_what_it_held_as_the_first_part(bucket, size, calls):
    client = Counting(bucket)
    writer = S3ObjectWriter(client, "out", "k", part_bytes=5 * MiB, single_put_bytes=32 * MiB)
    body = os.urandom(MiB) * (size // MiB)
    for offset in range(0, size, MiB // 2):  # as the Parquet writer hands its pages over
        writer.write(body[offset : offset + MiB // 2])
    writer.close()
    assert client.calls == calls and writer.requests == len(calls) <= put_requests(size, 5 * MiB, 32 * MiB)
    assert bucket.get_object(Bucket="out", Key="k")["Body"].read() == body
    if len(calls) > 1:  # the held 32 MiB went up as one part: a part may be as large as 5 GiB
        assert bucket.head_object(Bucket="out", Key="k", PartNumber=1)["ContentLength"] == 32 * MiB


def test_put_requests_counts_what_a_writer_sends():
    assert put_requests(1, 5 * MiB) == 1 and put_requests(5 * MiB, 5 * MiB) == 3  # create, a part, complete
    assert put_requests(31 * MiB, 8 * MiB, 32 * MiB) == 1
    assert put_requests(84 * MiB, 8 * MiB, 32 * MiB) == 2 + 1 + 7  # 32 MiB, then 52 MiB in 8 MiB parts
