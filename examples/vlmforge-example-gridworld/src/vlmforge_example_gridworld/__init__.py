"""A third-party vlmforge plugin: environment ``gridworld`` and its summary row (win rate).

The entry point ``example_gridworld`` (pyproject.toml) names this module; vlmforge calls its
hooks. The environment is registered as a ``"module:Class"`` string so it is imported only
when a command uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vlmforge.hookspecs import hookimpl
from vlmforge.metrics import SummaryMetric
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.components import EnvironmentFactory
    from vlmforge.trace import Episode, Run

ENV_NAME = "gridworld"


@hookimpl
def register_environments(register: Register[EnvironmentFactory]) -> None:
    register(
        ENV_NAME,
        "vlmforge_example_gridworld.env:GridWorld",
        description="Walk to the goal on a small grid (example third-party environment).",
    )


@hookimpl
def summary_metrics(run: Run, episodes: Sequence[Episode]) -> list[SummaryMetric] | None:
    """The share of episodes that reached the goal; only for this plugin's runs."""
    if run.env_name != ENV_NAME:
        return None
    wins = sum(1 for e in episodes if "reach_goal" in e.achievements)
    rate = 100.0 * wins / len(episodes) if episodes else 0.0
    return [SummaryMetric("goal_rate_pct", "goal reached", rate, f"{rate:.1f}%")]
