"""The emulator lists a bucket page by page as S3 does, each page without reading the whole bucket
again: the same keys in the same order as moto's own listing, one full read per listing."""

from __future__ import annotations

import pytest
from moto.s3.models import S3Backend, s3_backends

from landfall_emulator import s3_listing

pytestmark = pytest.mark.emulator

KEYS = [f"raw/2026/11/22/{hour:02d}/object-{n:05d}.gz" for hour in (12, 13) for n in range(1_250)]


@pytest.fixture(scope="module")
def buckets(emulator) -> list[str]:
    """Two buckets with the same 2,500 keys, stored through moto's backend (quick)."""
    s3 = emulator.client("s3")
    backend = s3_backends[emulator.stack.account_id]["global"]
    names = ["listing-one", "listing-two"]
    for name in names:
        s3.create_bucket(Bucket=name)
        for key in KEYS:
            backend.put_object(name, key, name.encode())
    return names


def listed(s3, **kwargs) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(**kwargs)
    return [
        entry.get("Key", entry.get("Prefix"))
        for page in pages
        for entry in [*page.get("Contents", []), *page.get("CommonPrefixes", [])]
    ]


def test_a_listing_in_pages_gives_every_key_once_in_order_reading_the_bucket_once(emulator, buckets, monkeypatch):
    reads = []
    full_read = S3Backend.list_objects
    monkeypatch.setattr(S3Backend, "list_objects", lambda *a, **k: reads.append(1) or full_read(*a, **k))
    s3 = emulator.client("s3")
    assert listed(s3, Bucket=buckets[0], Prefix="raw/", PaginationConfig={"PageSize": 300}) == sorted(KEYS)
    assert len(reads) == 1  # moto alone read and sorted the whole bucket for each of the 9 pages


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"StartAfter": KEYS[1_000]}, sorted(KEYS)[1_001:]),
        ({"Prefix": "raw/2026/11/22/13/"}, KEYS[1_250:]),
        ({"Prefix": "raw/2026/11/22/", "Delimiter": "/"}, ["raw/2026/11/22/12/", "raw/2026/11/22/13/"]),
        ({"Prefix": "nothing/"}, []),
    ],
)
def test_start_after_prefixes_and_folders_page_as_moto_does(emulator, buckets, kwargs, expected):
    s3 = emulator.client("s3")
    assert listed(s3, Bucket=buckets[0], PaginationConfig={"PageSize": 400}, **kwargs) == expected


def test_two_listings_at_once_of_buckets_with_the_same_keys_stay_apart(emulator, buckets):
    s3 = emulator.client("s3")
    first = [s3.list_objects_v2(Bucket=name, MaxKeys=1_000) for name in buckets]
    assert first[0]["NextContinuationToken"] == first[1]["NextContinuationToken"]  # the same last key
    for name, page in zip(buckets, first, strict=True):
        token = page["NextContinuationToken"]
        rest = s3.list_objects_v2(Bucket=name, MaxKeys=2_000, ContinuationToken=token)
        assert [e["Key"] for e in rest["Contents"]] == sorted(KEYS)[1_000:]
        key = rest["Contents"][0]["Key"]
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == name.encode()


def test_a_listing_forgotten_goes_on_from_its_token_as_moto_would(emulator, buckets, monkeypatch):
    s3 = emulator.client("s3")
    token = s3.list_objects_v2(Bucket=buckets[1], MaxKeys=700)["NextContinuationToken"]
    s3_listing._listings.clear()  # e.g. more listings began since than are kept
    rest = s3.list_objects_v2(Bucket=buckets[1], ContinuationToken=token)
    assert [e["Key"] for e in rest["Contents"]] == sorted(KEYS)[700:1_700] and rest["IsTruncated"]
