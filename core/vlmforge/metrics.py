"""Episode metrics used by eval summaries: success rates, means, and the formulas environment
plugins use for their own summary rows (:class:`SummaryMetric`, through the
``summary_metrics`` hook): the Crafter score and BALROG progression.

Which of these a run's summary shows is the environment plugin's choice (the ``crafter``
plugin shows both for its runs); the core shows only environment-neutral numbers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SummaryMetric:
    """One environment-specific number of a run summary (a table row and JSON keys).

    ``key`` is its key in the summary JSON (``crafter_score_pct``), ``label`` its row in the
    summary table (``Crafter score``), ``text`` how the row shows it (``1.35%``); ``extra``
    adds more JSON keys that belong to it (``progression_sem_pct``).
    """

    key: str
    label: str
    value: float | int | None
    text: str
    extra: Mapping[str, Any] = field(default_factory=dict)


def success_rates(unlocked: Iterable[Iterable[str]], names: Sequence[str]) -> dict[str, float]:
    """Percentage (0-100) of episodes that unlocked each achievement at least once."""
    episodes = [set(a) for a in unlocked]
    if not episodes:
        return {name: 0.0 for name in names}
    return {name: 100.0 * sum(name in e for e in episodes) / len(episodes) for name in names}


def crafter_score(rates: dict[str, float]) -> float:
    """Crafter score (%): exp(mean(ln(1 + s_i))) - 1 over success rates s_i in percent."""
    if not rates:
        return 0.0
    return math.exp(sum(math.log(1.0 + s) for s in rates.values()) / len(rates)) - 1.0


def mean_and_sem(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for fewer than two values)."""
    if not values:
        return 0.0, 0.0
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, statistics.stdev(values) / math.sqrt(len(values))


def progression(unique_counts: Sequence[int], total: int) -> tuple[float, float]:
    """BALROG progression (%): unique achievements / total, mean and s.e. over episodes."""
    if total <= 0:
        return 0.0, 0.0
    return mean_and_sem([100.0 * c / total for c in unique_counts])
