"""The accuracy report of a probe run as a rich table (the JSON is the report dict itself)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def report_table(report: dict[str, Any]) -> Table:
    """One row per probe type: n, accuracy [95% interval], chance, majority, invalid."""
    title = f"probes: run '{report['run']}' ({report['policy']}"
    title += f", {report['model']})" if report.get("model") else ")"
    table = Table(title=title, title_justify="left")
    for name in ("type", "n", "accuracy", "95% interval", "chance", "majority", "invalid"):
        table.add_column(name, justify="left" if name == "type" else "right")
    for row in [*report["types"], report["overall"] | {"type": "all"}]:
        low, high = row["ci95"]
        table.add_row(
            str(row["type"]),
            str(row["n"]),
            _pct(row["accuracy"]),
            f"[{_pct(low)}, {_pct(high)}]",
            _pct(row.get("chance")),
            _pct(row.get("majority")),
            str(row["invalid"] + row["failed"]),
        )
    return table
