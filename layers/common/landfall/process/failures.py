"""The errors a processor raises for its batch, and which of them leave nothing behind.

A batch fails only for I/O and infrastructure, never for what a record holds. Before raising, the
processor removes what the batch wrote; a batch that ends otherwise (a timeout, a crash, an error
raised while removing) may have left files, and the reducer's reconciliation says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class TransientError(RuntimeError):
    """A failure a retry can fix; its name is in the state machine's Retry list."""


class BatchFailed(RuntimeError):
    """An object failed its batch (a bug, the machine: never what a record holds). Its message names the
    object and the lines being read."""


# the Error of a failed child whose processor removed what the batch wrote before raising
CLEAN_FAILURES = frozenset({TransientError.__name__, BatchFailed.__name__})


# Why a processor could not read an object, as the processor classified it (never read back from the
# error's text): the report says what to do for each, and only those a retry can fix are redriven.
FailureCause = Literal["corrupt", "unsupported", "missing", "access", "archived"]


@dataclass(frozen=True)
class Remedy:
    title: str
    retryable: bool  # a redrive can succeed (after the action, for access and archived)
    advice: str  # `{backfill}`: the command that processes one object at once


REMEDIES: dict[FailureCause, Remedy] = {
    "corrupt": Remedy(
        "corrupt object",
        False,
        "its bytes do not decode (damaged or cut short) and a retry reads the "
        "same bytes: write a good copy at the source, then `{backfill}` (a new write under the landing "
        "prefix is also processed when it lands), or delete it.",
    ),
    "unsupported": Remedy(
        "unsupported format",
        False,
        "it is not JSON lines, plain or in a compression Firehose "
        "writes (gzip, ZIP, Snappy, HADOOP_SNAPPY): convert it at the source, then `{backfill}`, or "
        "move it out of the landing prefix.",
    ),
    "missing": Remedy(
        "object gone",
        False,
        "it (or this version) was deleted before it was read: nothing is left to "
        "process; if it is written again, it is processed when it lands.",
    ),
    "access": Remedy(
        "access denied",
        True,
        "S3 refused the processor's read: grant its role s3:GetObject on the "
        "object (and kms:Decrypt on its key), then redrive.",
    ),
    "archived": Remedy(
        "archived object",
        True,
        "it is in an archive storage class: restore it (`aws s3api "
        "restore-object`), then redrive once the restore completes.",
    ),
}

_S3_CAUSES: dict[str, FailureCause] = {
    "NoSuchKey": "missing",
    "NoSuchVersion": "missing",
    "404": "missing",
    "AccessDenied": "access",
    "403": "access",
    "InvalidObjectState": "archived",
}
PERMANENT_S3_ERRORS = frozenset(_S3_CAUSES)


def s3_failure_cause(code: str) -> FailureCause:
    """The cause of an S3 error code of PERMANENT_S3_ERRORS."""
    return _S3_CAUSES[code]


def is_retryable(cause: FailureCause | None) -> bool:
    """Whether a redrive can process an object that failed for `cause` (None: a summary that does not
    say, from a processor before causes were recorded; it is offered to redrive, as before)."""
    return cause is None or REMEDIES[cause].retryable
