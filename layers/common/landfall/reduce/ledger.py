"""Where each object of a run's manifest went: accounted for exactly once, or named as a problem.

Memory does not grow with the run: each manifest object is held as an 8-byte digest of its bucket,
key and version (two versions of one key are two objects) in a sorted array, found by bisection, with
a one-byte outcome. The redrive manifest is written by reading the manifest a second time. (Two
objects whose digests collide would be reported as one object accounted for twice: the run fails
loudly, it never passes silently.)
"""

from __future__ import annotations

import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from enum import IntEnum
from typing import TYPE_CHECKING

import msgspec

from landfall.core.layout import object_digest, object_url, redrive_manifest_key
from landfall.core.messages import S3Location
from landfall.core.writers import upload_file
from landfall.ingest.batching import manifest_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Outcome(IntEnum):
    UNSEEN = 0
    PROCESSED = 1
    FAILED = 2  # its processor could not read it
    BATCH = 3  # failed with its batch
    PENDING = 4  # its batch never started
    FAILED_FOR_GOOD = 5  # its processor could not read it, and a retry cannot fix that: not redriven
    DEFERRED = 6  # processed, but left out of the commit: its rows shared a file with rows the table had


class ObjectId(msgspec.Struct):
    bucket: str
    key: str
    version_id: str | None = None
    size: int = 0


class _Batch(msgspec.Struct):
    """A manifest line, its objects kept as raw JSON (a redrive manifest copies them as they are)."""

    objects: list[msgspec.Raw]


_batch_line = msgspec.json.Decoder(_Batch)
_object_id = msgspec.json.Decoder(ObjectId)


def manifest_batches(s3_client: S3Client, manifest: S3Location) -> Iterator[list[tuple[msgspec.Raw, ObjectId]]]:
    """The manifest's batches, each a list of its objects: (JSON, identity)."""
    body = s3_client.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"]
    for line in body.iter_lines(chunk_size=1 << 20):
        if line.strip():
            yield [(raw, _object_id.decode(raw)) for raw in _batch_line.decode(line).objects]


class Ledger:
    """Nine bytes per manifest object: its digest and its outcome; `problems` names what does not add up."""

    def __init__(self, s3_client: S3Client, manifest: S3Location) -> None:
        batches = manifest_batches(s3_client, manifest)
        digests = array("Q", (object_digest(o.bucket, o.key, o.version_id) for batch in batches for _, o in batch))
        self.digests = array("Q", sorted(digests))
        self.outcomes = bytearray(len(self.digests))
        self.problems: list[str] = []

    def _position(self, digest: int) -> int | None:
        at = bisect_left(self.digests, digest)
        return at if at < len(self.digests) and self.digests[at] == digest else None

    def account(self, bucket: str, key: str, version_id: str | None, outcome: Outcome) -> bool:
        """Record where an object went; False (and a problem) if it is not in the manifest or was
        accounted for already."""
        position = self._position(object_digest(bucket, key, version_id))
        name = outcome.name.lower()
        if position is None:
            self.problems.append(f"{object_url(bucket, key, version_id)} was {name} but is not in the manifest")
            return False
        if self.outcomes[position] != Outcome.UNSEEN:
            before = Outcome(self.outcomes[position]).name.lower()
            self.problems.append(f"{object_url(bucket, key, version_id)} was {name} and {before}")
            return False
        self.outcomes[position] = outcome
        return True

    def defer(self, digests: frozenset[int]) -> None:
        """Processed objects whose rows were not committed: the redrive manifest takes them."""
        for digest in digests:
            position = self._position(digest)
            if position is not None and self.outcomes[position] == Outcome.PROCESSED:
                self.outcomes[position] = Outcome.DEFERRED

    def outcome_of(self, identity: ObjectId) -> Outcome:
        position = self._position(object_digest(identity.bucket, identity.key, identity.version_id))
        return Outcome.UNSEEN if position is None else Outcome(self.outcomes[position])

    @property
    def objects(self) -> int:
        return len(self.outcomes)

    @property
    def unseen(self) -> int:
        return self.outcomes.count(Outcome.UNSEEN)


_DONE = (Outcome.PROCESSED, Outcome.FAILED_FOR_GOOD)  # nothing a redrive can do


def write_redrive(
    s3_client: S3Client, manifest: S3Location, ledger: Ledger, run_id: str, bucket: str
) -> tuple[str | None, str]:
    """Write the redrive manifest: each batch of the manifest with its objects that were not processed
    (failed, pending, unaccounted for), but for those failed for good, read again. Returns its key (None
    if nothing is left) and the first object nothing accounted for ("" if none)."""
    first_missing = ""
    written = 0
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        for batch in manifest_batches(s3_client, manifest):
            left = [(raw, ident) for raw, ident in batch if ledger.outcome_of(ident) not in _DONE]
            for _, ident in left:
                if not first_missing and ledger.outcome_of(ident) == Outcome.UNSEEN:
                    first_missing = object_url(ident.bucket, ident.key, ident.version_id)
            if left:
                spool.write(manifest_line(sum(ident.size for _, ident in left), [bytes(raw) for raw, _ in left]))
                written += len(left)
        if not written:
            return None, first_missing
        key = redrive_manifest_key(run_id)
        spool.seek(0)
        upload_file(s3_client, spool, bucket, key)
    return key, first_missing
