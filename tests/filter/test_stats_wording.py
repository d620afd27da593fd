"""The filter's stats table counts in words that agree with the number (issue 18, item 11)."""

from __future__ import annotations

from rich.console import Console

from vlmforge.dataset.stats import FilterStats


def _text(stats: FilterStats) -> str:
    console = Console(width=120, record=True)
    console.print(stats.table())
    return console.export_text()


def test_one_row_is_a_row_and_two_are_rows() -> None:
    one = _text(FilterStats(rows_built=1, train_rows=1, val_rows=0, kept_episodes=1))
    assert "1 row" in one and "1 rows" not in one and "0 rows" in one
    two = _text(FilterStats(rows_built=2, train_rows=2, kept_episodes=1))
    assert "2 rows" in two and "2 row " not in two
