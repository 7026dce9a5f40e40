"""An upkeep run's report.md, from its model: what `landfall report UPKEEP_ID` prints."""

from __future__ import annotations

from landfall.upkeep.messages import UpkeepReport


def render_upkeep(report: UpkeepReport) -> str:
    done, planned = report.compaction, report.planned
    lines = [
        f"# Upkeep {report.run_id}: {report.status}",
        "",
        f"Table `{report.table}`, {report.timing.seconds:,.0f} s"
        + (f". {report.status_reason}" if report.status_reason else "."),
        *_cost(report),
        "",
        "## Compaction",
        "",
        "| | |",
        "|---|---|",
        f"| partitions with live files | {planned.partitions:,} ({planned.open_partitions:,} still open, left alone) |",
        f"| small files in closed partitions | {planned.small_files:,} |",
        f"| partitions to compact | {done.items:,}: {done.compacted:,} compacted, {done.given_up:,} given up, "
        f"{done.failed:,} failed |",
        f"| files | {done.files_in:,} → {done.files_out:,} |",
        f"| bytes | {done.bytes_in:,} → {done.bytes_out:,} |",
        f"| rows (the same before and after) | {done.rows:,} |",
        f"| commits tried | {done.commit_attempts:,} |",
    ]
    lines += [f"- {error}" for error in done.errors]
    if report.housekeeping is not None:
        kept = report.housekeeping
        swept = kept.orphans
        lines += [
            "",
            "## Housekeeping",
            "",
            f"- snapshots: {kept.expiry.expired:,} of {kept.expiry.snapshots_before:,} expired",
            f"- data files no snapshot names: {swept.data.deleted:,} deleted ({swept.data.bytes:,} bytes), "
            f"{swept.data.young:,} too young, {swept.data.kept_for_runs:,} kept for runs that may still commit them",
            f"- metadata files nothing names: {swept.metadata.deleted:,} deleted, {swept.metadata.young:,} too young",
            f"- manifests of the current snapshot: {kept.manifests.manifests_before:,} → "
            f"{kept.manifests.manifests_after:,}",
        ]
    return "\n".join(lines) + "\n"


def _cost(report: UpkeepReport) -> list[str]:
    cost = report.cost
    if cost is None:
        return []
    per_gb = f", ${cost.usd_per_gb:.4f} a GB compacted" if cost.usd_per_gb else ""
    return [
        "",
        f"Cost: ${cost.total_usd:.4f}{per_gb} (Lambda ${cost.lambda_usd:.4f}, Step Functions "
        f"${cost.step_functions_usd:.4f}, S3 ${cost.s3_usd:.4f}, Glue ${cost.glue_usd:.4f}; list prices, "
        "storage not included)",
    ]
