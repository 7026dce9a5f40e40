"""Cut a run's objects into batches, one Distributed Map child each, bounded by bytes of objects.

The map's ItemBatcher counts items and the bytes of their JSON, never the size of the objects they
name: a batch of large objects would have unbounded work, and no processor timeout could be right
for it. So the manifest writer, backfill and redrive cut the batches themselves, and each manifest
line is one batch. A batch closes before it would pass `max_objects` objects, `max_bytes` bytes of
objects (an object larger than that goes alone), or `MAX_ITEMS_JSON_BYTES` of item JSON, so that a
child's input stays under Step Functions' 256 KiB whatever the keys (one item, with S3's longest key
escaped, is ~6 KiB).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from landfall.core.messages import MESSAGE_VERSION
from landfall.ingest.messages import ManifestItem, RunConfig

STEP_FUNCTIONS_PAYLOAD_BYTES = 256 * 1024  # a child's input, a state's output (States.DataLimitExceeded)
# the items of one child: its input less room for the batch input and the JSON around them
MAX_ITEMS_JSON_BYTES = STEP_FUNCTIONS_PAYLOAD_BYTES - 4 * 1024


@dataclass(frozen=True)
class BatchLimits:
    max_objects: int
    max_bytes: int  # bytes of objects, as stored (a single larger object goes alone)

    @classmethod
    def of(cls, config: RunConfig) -> BatchLimits:
        return cls(max_objects=config.max_items_per_batch, max_bytes=config.max_batch_bytes)


def item_json(item: ManifestItem) -> bytes:
    return item.model_dump_json(exclude_none=True).encode()


def _payload_bytes(encoded: bytes) -> int:
    """The bytes an item takes in a child's input, at most: with every non-ASCII character escaped."""
    if encoded.isascii():
        return len(encoded)
    return len(json.dumps(json.loads(encoded), separators=(",", ":")).encode())


def manifest_line(size: int, objects: list[bytes]) -> bytes:
    """A manifest line (a `ManifestBatch`) of objects' JSON, `size` bytes of objects in all."""
    return b'{"version":%d,"bytes":%d,"objects":[%s]}\n' % (MESSAGE_VERSION, size, b",".join(objects))


@dataclass
class Batcher:
    """Items in manifest order in, manifest lines (one per batch) out; counts what it cut so far (the
    batch being filled included)."""

    limits: BatchLimits
    batches: int = 0
    largest_batch_bytes: int = 0
    _items: list[bytes] = field(default_factory=list, repr=False)
    _bytes: int = field(default=0, repr=False)
    _json_bytes: int = field(default=0, repr=False)

    def add(self, item: ManifestItem) -> bytes | None:
        """Add an item; returns the line of the batch it closed, if it closed one."""
        encoded = item_json(item)
        size = _payload_bytes(encoded) + 1
        closed = None
        if self._items and (
            len(self._items) >= self.limits.max_objects
            or self._bytes + item.size > self.limits.max_bytes
            or self._json_bytes + size > MAX_ITEMS_JSON_BYTES
        ):
            closed = self.close()
        if not self._items:
            self.batches += 1
        self._items.append(encoded)
        self._bytes += item.size
        self._json_bytes += size
        self.largest_batch_bytes = max(self.largest_batch_bytes, self._bytes)
        return closed

    def close(self) -> bytes | None:
        """The line of the batch being filled, if it has items."""
        if not self._items:
            return None
        line = manifest_line(self._bytes, self._items)
        self._items, self._bytes, self._json_bytes = [], 0, 0
        return line
