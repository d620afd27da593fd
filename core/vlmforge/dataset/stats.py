"""What every stage of ``vlmforge filter`` kept and removed: filter_stats.json and the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vlmforge.dataset.chain import FilterCount
from vlmforge.dataset.rows import RowCounts
from vlmforge.wording import plural

MAX_CORRUPT_ERRORS = 20  # errors kept in filter_stats.json (the counts are complete)


@dataclass
class CorruptCount:
    """What ``on_corrupt = "skip"`` left out: episodes whose steps do not decode (pass 1), rows
    whose images are missing (pass 2), and the first few errors."""

    episodes: int = 0
    rows: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, error: str, *, row: bool) -> None:
        if row:
            self.rows += 1
        else:
            self.episodes += 1
        if len(self.errors) < MAX_CORRUPT_ERRORS:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        return {"skipped_episodes": self.episodes, "skipped_rows": self.rows, "errors": self.errors}


@dataclass
class FilterStats:
    """Counts for every stage; ``as_dict`` is what filter_stats.json holds."""

    sources: list[str] = field(default_factory=list)
    input_runs: int = 0
    input_episodes: int = 0
    input_steps: int = 0
    filters: list[FilterCount] = field(default_factory=list)
    kept_episodes: int = 0
    kept_steps: int = 0
    rows: RowCounts = field(default_factory=RowCounts)
    rows_built: int = 0
    dedupe_removed: int = 0
    corrupt: CorruptCount = field(default_factory=lambda: CorruptCount())
    train_rows: int = 0
    val_rows: int = 0
    train_episodes: int = 0
    val_episodes: int = 0
    exporter: str = ""
    exports: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "input": {
                "runs": self.input_runs,
                "episodes": self.input_episodes,
                "steps": self.input_steps,
            },
            "filters": [c.as_dict() for c in self.filters],
            "kept": {"episodes": self.kept_episodes, "steps": self.kept_steps},
            "rows": {"built": self.rows_built, "skipped": self.rows.as_dict()},
            "dedupe": {"removed": self.dedupe_removed},
            "corrupt": self.corrupt.as_dict(),
            "train": {"episodes": self.train_episodes, "rows": self.train_rows},
            "val": {"episodes": self.val_episodes, "rows": self.val_rows},
            "exporter": self.exporter,
            "exports": self.exports,
            "settings": self.settings,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def table(self) -> Any:
        """A rich table with one line per stage."""
        from rich.table import Table

        table = Table(title="vlmforge filter")
        for col in ("stage", "episodes", "steps / rows", "removed"):
            table.add_column(col, justify="left" if col == "stage" else "right")
        table.add_row("input", str(self.input_episodes), f"{self.input_steps} steps", "")
        for c in self.filters:
            kept = c.episodes_in - c.episodes_dropped
            table.add_row(
                f"filter {c.name}",
                str(kept),
                plural(c.steps_in - c.steps_removed, "step"),
                f"{plural(c.episodes_dropped, 'episode')}, {plural(c.steps_removed, 'step')}",
            )
        skipped = {k: v for k, v in self.rows.as_dict().items() if v}
        table.add_row(
            "rows",
            str(self.kept_episodes),
            plural(self.rows_built, "row"),
            ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in skipped.items()),
        )
        table.add_row(
            "dedupe",
            "",
            plural(self.rows_built - self.dedupe_removed, "row"),
            plural(self.dedupe_removed, "row"),
        )
        if self.corrupt.episodes or self.corrupt.rows or self.settings.get("on_corrupt") == "skip":
            table.add_row(
                "corrupt (skipped)",
                "",
                "",
                f"{plural(self.corrupt.episodes, 'episode')}, {plural(self.corrupt.rows, 'row')}",
            )
        table.add_row("train", str(self.train_episodes), plural(self.train_rows, "row"), "")
        table.add_row("validation", str(self.val_episodes), plural(self.val_rows, "row"), "")
        return table
