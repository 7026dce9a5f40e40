"""What each `make bench` figure aims at: the one list the bench prints its figures against.

An aim names a figure of `benchmarks/results/latest.json` by its path. A bound is a ratio or a rate; a
"flat" aim compares a peak at the larger input with the same peak at the smaller one: memory that does
not grow with the input may vary by the allocator's noise (`FLAT_SLACK`), never with the input's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FLAT_SLACK = 1.10  # a peak RSS at 4-10× the input within 10 % of the smaller input's: flat


@dataclass(frozen=True)
class Aim:
    figure: str
    path: tuple[str, ...]
    at_least: float | None = None
    at_most: float | None = None
    flat_from: tuple[str, ...] | None = None  # the same peak at the smaller input
    unit: str = "×"

    def measured(self, results: dict[str, Any]) -> float:
        return float(_at(results, self.path))

    def met(self, results: dict[str, Any]) -> bool:
        value = self.measured(results)
        if self.flat_from is not None:
            return value <= float(_at(results, self.flat_from)) * FLAT_SLACK
        return (self.at_least is None or value >= self.at_least) and (self.at_most is None or value <= self.at_most)

    def wanted(self) -> str:
        if self.flat_from is not None:
            return f"flat (≤ {FLAT_SLACK:.2f}× the smaller input's)"
        if self.at_least is not None:
            return f"≥ {self.at_least:,g}{self.unit}"
        return f"≤ {self.at_most:,g}{self.unit}"

    def shown(self, results: dict[str, Any]) -> str:
        value = self.measured(results)
        if self.flat_from is not None:
            return f"{float(_at(results, self.flat_from)):,.0f} → {value:,.0f} MB"
        return f"{value:,.0f}{self.unit}" if value >= 1000 else f"{value:.2f}{self.unit}"


def _at(results: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        results = results[part]
    return results


AIMS = (
    Aim("core loop vs zcat FILE | wc -l", ("speed", "core_loop_x_zcat"), at_least=1.0),
    Aim("core loop vs DuckDB's lenient read_json (names no bad line)", ("speed", "core_loop_x_duckdb"), at_least=1.0),
    Aim("processor via S3, with output, vs its core loop", ("speed", "handler_x_core_loop"), at_least=0.8),
    Aim(
        "1 TB of gzip input, whole pipeline, x86_64",
        ("speed", "terabyte", "usd_per_tb", "x86_64"),
        at_most=1.5,
        unit=" $/TB",
    ),
    # Athena's guidance: data files of 128 MB or more. A batch's late records make small files (most of its
    # files by count, 1 % of its bytes): the aim is on where the bytes are, the file holding the median byte
    Aim(
        "1 TB: half the table's bytes in files of at least",
        ("speed", "terabyte", "half_bytes_in_files_of_mb"),
        at_least=128,
        unit=" MB",
    ),
    Aim(
        "1 TB priced vs the previous release's files, same run",
        ("speed", "terabyte", "x_before"),
        at_most=1.0,
    ),
    Aim("Parquet output vs gzip JSON lines, speed", ("speed", "parquet_x_json_lines"), at_least=1.0),
    Aim("curated bytes per input (gzip) byte", ("speed", "parquet_bytes_per_input_byte"), at_most=0.5, unit=""),
    Aim("processor vs the common approach", ("speed", "handler_x_common_approach"), at_least=3.0),
    # issue: the quality rules' measures cost at most 5 % of the processor's throughput
    Aim("processor with the default job's quality rules vs without", ("speed", "quality_rules_x"), at_least=0.95),
    Aim(
        "peak RSS, processor, 512 MiB → 2 GiB in",
        ("memory", "processor_2048mib_rss_mb"),
        flat_from=("memory", "processor_512mib_rss_mb"),
    ),
    Aim("500 small objects, concurrent vs one by one", ("small_objects", "x"), at_least=8.0),
    Aim("manifest writer, notifications per second", ("manifest_writer", "per_second"), at_least=50_000, unit="/s"),
    Aim(
        "peak RSS, backfill, 10,000 → 100,000 keys",
        ("backfill", "keys_100000_rss_mb"),
        flat_from=("backfill", "keys_10000_rss_mb"),
    ),
    Aim(
        "peak RSS, compaction, 60 → 180 small files",
        ("compaction", "files_180", "rss_mb"),
        flat_from=("compaction", "files_60", "rss_mb"),
    ),
    Aim("reducer vs a naive json.load of every file", ("reducer", "x_naive"), at_least=1.0),
    Aim(
        "peak RSS, reducer, 10,000 → 100,000 results",
        ("reducer", "reducer_100000_rss_mb"),
        flat_from=("reducer", "reducer_10000_rss_mb"),
    ),
    *(
        Aim(f"cold start, {name}", ("cold_start", f"{name}_ms"), at_most=300, unit=" ms")
        for name in ("ManifestWriterFunction", "ProcessorFunction", "ReducerFunction", "CatalogFunction")
    ),
)


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every aim with what was measured, for latest.json; an aim whose figure was not measured is left out."""
    checked = []
    for aim in AIMS:
        try:
            checked.append(
                {"figure": aim.figure, "measured": aim.shown(results), "aim": aim.wanted(), "met": aim.met(results)}
            )
        except (KeyError, TypeError):
            continue  # e.g. the previous release, when git cannot give it
    return checked


def table(checked: list[dict[str, Any]]) -> list[str]:
    width = max((len(row["figure"]) for row in checked), default=0)
    lines = [
        f"{row['figure']:{width}}  {row['measured']:>16}  aim {row['aim']}: {'met' if row['met'] else 'NOT MET'}"
        for row in checked
    ]
    met = sum(row["met"] for row in checked)
    return [*lines, f"{met} of {len(checked)} aims met"]
