"""`landfall quality`: the job's quality rules over the last runs, from the record each run's reducer
keeps (`quality/<table>/`, newest first): a table of each rule's value run by run, breaches marked, and
the same as a picture (`--chart DIR`), so that a drift is seen before it breaches."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from landfall.core.layout import QUALITY_PREFIX
from landfall.reduce.quality import QualityRecord, read_history
from landfall.reduce.quality_chart import draw_trend
from landfall_cli.target import Target


class NoQualityRecords(LookupError):
    """No run of the deployment has kept quality records (its job declares no rules, or no run ended)."""


def quality_table_name(target: Target) -> str:
    """The table whose runs kept records: a deployment's job has one (the first by name if there are more)."""
    listed = target.s3.list_objects_v2(Bucket=target.pipeline_bucket, Prefix=QUALITY_PREFIX, Delimiter="/")
    tables = sorted(p["Prefix"].removeprefix(QUALITY_PREFIX).rstrip("/") for p in listed.get("CommonPrefixes", []))
    if not tables:
        raise NoQualityRecords(
            f"no run in {target.where} kept quality records yet: its job declares no rules, or no run has ended"
        )
    return tables[0]


def trend(target: Target, runs: int) -> tuple[str, list[QualityRecord]]:
    table = quality_table_name(target)
    return table, read_history(target.s3, target.pipeline_bucket, table, runs)


def trend_table(table: str, records: list[QualityRecord]) -> Table:
    """A row a rule, a column a run (oldest first); a breached value in bold red, with its severity."""
    ordered = records[::-1]
    runs = f"{len(records)} runs" if len(records) != 1 else "run"
    grid = Table(title=f"{table}: quality rules over the last {runs}", title_justify="left")
    grid.add_column("rule")
    for record in ordered:
        grid.add_column(f"{record.ended_at:%m-%d %H:%M}", justify="right")
    rules = list(dict.fromkeys(result.rule for record in ordered for result in record.rules))
    for rule in rules:
        cells = []
        for record in ordered:
            found = next((r for r in record.rules if r.rule == rule), None)
            if found is None or found.observed is None:
                cells.append("–")
            elif found.outcome == "breached":
                cells.append(f"[bold red]{found.observed:,.4g} ({found.severity})[/bold red]")
            else:
                cells.append(f"{found.observed:,.4g}")
        grid.add_row(rule, *cells)
    return grid


def write_chart(records: list[QualityRecord], folder: Path, table: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}-quality.svg"
    path.write_text(draw_trend(records))
    return path
