"""A job's aggregates as the run report shows them: a table of a title, columns and rows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AggregateTable(BaseModel):
    """A table of a job's aggregates, as the job describes them for the report (`Job.describe`)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
