"""The ``crafter`` plugin's rows of a run summary: the Crafter score and BALROG progression.

Reported for runs of ``crafter`` and of any environment with Crafter's 22 achievements (the
same game served by ``vlmforge serve`` and played through ``remote``). Kept free of the
``crafter`` package so summaries (``vlmforge traces stats``) do not import the game.
"""

from __future__ import annotations

from collections.abc import Sequence

from vlmforge import metrics
from vlmforge.metrics import SummaryMetric
from vlmforge.trace import Episode, Run

ENV_NAME = "crafter"
# crafter.constants.achievements (tests/eval/test_env_summary_metrics.py checks they match)
CRAFTER_ACHIEVEMENTS: frozenset[str] = frozenset(
    {
        "collect_coal", "collect_diamond", "collect_drink", "collect_iron", "collect_sapling",
        "collect_stone", "collect_wood", "defeat_skeleton", "defeat_zombie", "eat_cow",
        "eat_plant", "make_iron_pickaxe", "make_iron_sword", "make_stone_pickaxe",
        "make_stone_sword", "make_wood_pickaxe", "make_wood_sword", "place_furnace",
        "place_plant", "place_stone", "place_table", "wake_up",
    }
)  # fmt: skip


def is_crafter_run(run: Run) -> bool:
    return run.env_name == ENV_NAME or set(run.achievements) == CRAFTER_ACHIEVEMENTS


def crafter_summary_metrics(run: Run, episodes: Sequence[Episode]) -> list[SummaryMetric] | None:
    """BALROG progression (mean +/- s.e. of unique achievements / 22) and the Crafter score
    (exp(mean ln(1 + s_i)) - 1 over the per-achievement success rates s_i, in %)."""
    if not is_crafter_run(run):
        return None
    names = list(run.achievements) or sorted(CRAFTER_ACHIEVEMENTS)
    rates = metrics.success_rates([e.achievements for e in episodes], names)
    progression, sem = metrics.progression([e.unique_achievements for e in episodes], len(names))
    score = metrics.crafter_score(rates)
    return [
        SummaryMetric(
            key="progression_pct",
            label="BALROG progression",
            value=progression,
            text=f"{progression:.2f}% ± {sem:.2f}",
            extra={"progression_sem_pct": sem},
        ),
        SummaryMetric(
            key="crafter_score_pct", label="Crafter score", value=score, text=f"{score:.2f}%"
        ),
    ]
