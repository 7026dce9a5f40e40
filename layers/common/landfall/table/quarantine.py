"""The quarantine table: `QuarantineEntry` is the one declaration of an entry. The processor writes it
(`process.quarantine`) and the catalog's `quarantine` table's columns come from it (`table.schema`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from landfall.table.schema import table_schema


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class QuarantineEntry(msgspec.Struct):
    """Every field is written, defaults too: a JSON reader takes an absent `raw_truncated` for NULL,
    and `WHERE NOT raw_truncated` would miss the lines kept whole."""

    run_id: Annotated[str, _doc("the run that rejected the line")]
    source_bucket: Annotated[str, _doc("bucket of the object the line came from")]
    source_key: Annotated[str, _doc("key of that object")]
    source_version_id: Annotated[str | None, _doc("version of that object (versioned landing buckets)")]
    line: Annotated[int, _doc("line number in that object (from 1)")]
    reason: Annotated[str, _doc("why: invalid_json, invalid_utf8, schema, line_too_long, too_deep, …")]
    detail: Annotated[str, _doc("the decoder's or the job's words, naming the field")]
    raw: Annotated[str | None, _doc("the line as it came (its first 64 KiB), when it is UTF-8")] = None
    raw_base64: Annotated[str | None, _doc("the line's bytes in base64, when it is not UTF-8")] = None
    raw_truncated: Annotated[bool, _doc("the line was longer than what is kept")] = False


QUARANTINE_TABLE = table_schema("quarantine", QuarantineEntry, lineage=False)
