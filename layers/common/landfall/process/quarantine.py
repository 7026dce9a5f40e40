"""The quarantine's lines as the processor writes them: every rejected line with where it came from and
why (`table.quarantine.QuarantineEntry`), and the causes of an object's rejected lines, counted for the
run's report (`CauseTally`).
"""

from __future__ import annotations

import base64
import functools
import re

import msgspec

from landfall.process.decoding import Rejection
from landfall.process.messages import DetailCount, RejectionExample
from landfall.table.quarantine import QuarantineEntry

RAW_LIMIT = 64 * 1024  # bytes of a rejected line kept
_encoder = msgspec.json.Encoder()


def entry_line(run_id: str, source: tuple[str, str, str | None], rejection: Rejection, truncated: bool) -> bytes:
    """One JSON line for a rejected line of `source` (bucket, key, version)."""
    raw = rejection.data[:RAW_LIMIT]
    try:
        text, encoded = raw.decode("utf-8"), None
    except UnicodeDecodeError:
        text, encoded = None, base64.b64encode(raw).decode("ascii")
    entry = QuarantineEntry(
        run_id,
        *source,
        rejection.line,
        rejection.reason,
        rejection.detail,
        raw=text,
        raw_base64=encoded,
        raw_truncated=truncated or len(rejection.data) > RAW_LIMIT,
    )
    return _encoder.encode(entry) + b"\n"


EXAMPLE_CHARS = 200  # of a rejected line and its detail, in an object's summary (the quarantine has them whole)
CAUSE_CHARS = 160
# An object's summary travels in its batch's output, inline while the batch's summaries stay under
# INLINE_SUMMARY_BYTES (64 KiB by default, within Step Functions' 256 KiB), else as a line of a file in
# S3 that the reducer reads: its causes must stay small whatever its lines hold. 8 causes of ≤ ~600
# bytes each (cause, example detail and line) keep a reason under 5 KB; an object rarely has more
# than 3 causes a reason once their values are taken out.
OBJECT_CAUSES = 8  # per reason, in an object's summary: the most frequent
TRACKED_CAUSES = 64  # per reason, told apart while an object streams (a later cause goes uncounted)
_INDEX = re.compile(r"\[\d+\]")
# a quoted value ('clack', "x"), or a number standing alone (a byte offset, a year): not RFC3339, UTF-8
_VALUE = re.compile(r"""(?<!\w)'[^'\n]*'(?!\w)|"[^"\n]*"|(?<![\w.$-])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])""")


def _elided(match: re.Match[str]) -> str:
    value = match.group()
    return f"{value[0]}…{value[0]}" if value[0] in "'\"" else "…"


@functools.lru_cache(maxsize=4096)  # a run's lines are rejected for few details, again and again
def cause_of(detail: str) -> str:
    """A rejection's detail without the line's own values, so that lines rejected alike count as one
    cause: "Invalid enum value 'clack' - at `$.type`" → "Invalid enum value '…' - at `$.type`",
    "JSON is malformed: invalid character (byte 23)" → "… (byte …)", `$.tags[3]` → `$.tags[*]`."""
    return _VALUE.sub(_elided, _INDEX.sub("[*]", detail))[:CAUSE_CHARS]


class CauseTally:
    """An object's rejected lines by reason and cause, each cause with its first line, bounded (see
    OBJECT_CAUSES): `rejected_by_reason` counts every line, the causes those they could tell apart."""

    def __init__(self) -> None:
        self._reasons: dict[str, dict[str, list]] = {}  # reason → cause → [count, first line's example]

    def add(self, rejection: Rejection) -> None:
        causes = self._reasons.get(rejection.reason)
        if causes is None:
            causes = self._reasons[rejection.reason] = {}
        cause = cause_of(rejection.detail)
        counted = causes.get(cause)
        if counted is not None:
            counted[0] += 1
        elif len(causes) < TRACKED_CAUSES:
            example = RejectionExample(
                line=rejection.line,
                detail=rejection.detail[:EXAMPLE_CHARS],
                raw=rejection.data[:EXAMPLE_CHARS].decode("utf-8", "replace"),
            )
            causes[cause] = [1, example]

    def details(self) -> dict[str, list[DetailCount]]:
        """Per reason, its OBJECT_CAUSES most frequent causes (the earliest first among equals)."""
        return {
            reason: [
                DetailCount(detail=cause, count=count, example=example)
                for cause, (count, example) in sorted(causes.items(), key=lambda item: (-item[1][0], item[1][1].line))[
                    :OBJECT_CAUSES
                ]
            ]
            for reason, causes in self._reasons.items()
        }
