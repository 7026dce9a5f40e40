"""The errors a processor raises for its batch, and which of them leave nothing behind.

A batch fails only for I/O and infrastructure, never for what a record holds. Before raising, the
processor removes what the batch wrote; a batch that ends otherwise (a timeout, a crash, an error
raised while removing) may have left files, and the reducer's reconciliation says so.
"""

from __future__ import annotations


class TransientError(RuntimeError):
    """A failure a retry can fix; its name is in the state machine's Retry list."""


class BatchFailed(RuntimeError):
    """An object failed its batch (a bug, the machine: never what a record holds). Its message names the
    object and the lines being read."""


# the Error of a failed child whose processor removed what the batch wrote before raising
CLEAN_FAILURES = frozenset({TransientError.__name__, BatchFailed.__name__})
