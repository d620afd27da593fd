"""Rich tables for a held-out report (``vlmforge pipeline``'s ``report.json``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from vlmforge.seeds import format_seeds


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The rows table and the comparisons table."""
    seeds = report.get("heldout_seeds") or []
    rows = Table(title=f"held-out seeds {format_seeds(seeds)} (never trained on)")
    for column in ("row", "episodes", "unique achievements", "Crafter score", "reward", "invalid"):
        rows.add_column(column, justify="left" if column == "row" else "right")
    for row in report["rows"]:
        rows.add_row(
            row["name"],
            str(row["episodes"]),
            f"{row['unique_achievements_mean']:.2f} ± {row['unique_achievements_sem']:.2f}",
            f"{row['crafter_score_pct']:.2f}%",
            f"{row['reward_mean']:.2f} ± {row['reward_sem']:.2f}",
            f"{100 * row['invalid_decision_rate']:.1f}%",
        )
    compared = Table(title="paired differences on the same seeds (95% interval)")
    for column in ("comparison", "metric", "difference", "95% interval", "ratio", "real?"):
        compared.add_column(column, justify="left" if column == "comparison" else "right")
    for item in report.get("comparisons", []):
        if item["difference"] is None:
            continue
        low, high = item["ci95"]
        ratio = item.get("ratio")
        compared.add_row(
            f"{item['a']} - {item['b']}",
            item["metric"].replace("_", " "),
            f"{item['difference']:+.2f}",
            f"[{low:+.2f}, {high:+.2f}]",
            "-" if ratio is None else f"{ratio:.2f}x",
            "yes" if item["excludes_zero"] else "no",
        )
    tables = [rows, compared]
    if report.get("probes"):
        probes = Table(title="vision probes (vlmforge probe runs in the held-out store)")
        for column in ("run", "model", "probes", "accuracy", "95% interval"):
            probes.add_column(column, justify="left" if column in ("run", "model") else "right")
        for item in report["probes"]:
            low, high = item["ci95"]
            probes.add_row(
                item["run"], str(item["model"] or item["policy"]), str(item["n"]),
                f"{100 * item['accuracy']:.1f}%", f"[{100 * low:.1f}%, {100 * high:.1f}%]",
            )  # fmt: skip
        tables.append(probes)
    return tables
