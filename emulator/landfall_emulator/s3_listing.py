"""ListObjectsV2 page by page in the time of a page, as S3 answers it.

moto answers every page by reading every key of the bucket, sorting them all and scanning to the
continuation token: a listing of n keys costs n²/1000 key visits, 10,000 visits a key at 10,000 keys
and 100,000 at 100,000 (the rehearsal's backfill of 100,000 objects took 16× the time of 10,000). Here
the first page of a listing sorts the bucket's keys once, as moto does, and keeps that order under the
continuation token it returns; each next page is the next slice of it. A listing therefore sees the
bucket as it was at its first page, which a listing in progress on S3 may also do for keys written or
deleted after it began. Listings that are never finished are dropped, oldest first.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from threading import Lock
from typing import Any

from moto.s3.models import FakeKey, S3Backend
from moto.utilities.utils import md5_hash

_original = S3Backend.list_objects_v2
_KEPT = 64  # listings in progress at once; an older one starts again from its token, as moto would
# (backend, bucket, prefix, delimiter, token) → (the listing's keys, the index of its next page)
_listings: OrderedDict[tuple[int, str, str | None, str | None, str], tuple[list[Any], int]] = OrderedDict()
_lock = Lock()  # the moto server answers from several threads


def _name(key: Any) -> str:
    return key.name if isinstance(key, FakeKey) else key


def list_objects_v2(
    self: S3Backend,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> tuple[Any, bool, str | None]:
    def at(token: str) -> tuple[int, str, str | None, str | None, str]:
        return id(self), bucket.name, prefix, delimiter, token

    with _lock:
        listing = _listings.pop(at(continuation_token), None) if continuation_token else None
    if listing is None:
        if continuation_token and continuation_token not in self._pagination_tokens:
            return _original(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        keys, folders, _, _ = self.list_objects(bucket, prefix, delimiter, marker=None, max_keys=None)
        every = sorted([*keys, *folders], key=_name)
        limit = self._pagination_tokens[continuation_token] if continuation_token else start_after
        start = bisect_right(every, limit, key=_name) if limit else 0
    else:
        every, start = listing
    page = every[start : start + max_keys] if max_keys else []
    if not max_keys or start + max_keys >= len(every):
        return page, False, None
    last = _name(page[-1])
    token = md5_hash(last.encode("utf-8")).hexdigest()  # moto's own token for the page, and its record of it:
    self._pagination_tokens[token] = last  # a listing dropped here goes on from it as moto would
    with _lock:
        _listings[at(token)] = (every, start + max_keys)
        while len(_listings) > _KEPT:
            _listings.popitem(last=False)
    return page, True, token
