"""The planner composes goal objects: priority order, first plan wins, custom goal lists."""

from __future__ import annotations

from vlmforge_crafter.ground_truth import PlayerView, player_view
from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.planner import PRIORITY, Planner
from vlmforge_crafter.teacher.rationale import Plan

#: The order docs/scripted.md describes.
DOCUMENTED = (
    "fight",
    "craft_here",
    "critical_needs",
    "needs_before_bed",
    "sleep",
    "nap",
    "opening",
    "basics",
    "stone_age",
    "furnace_age",
    "garden",
    "iron_age",
    "rare",
    "upkeep",
    "wander",
)


def _view(step: int = 150) -> PlayerView:
    view = [["grass"] * 9 for _ in range(7)]
    view[3][4] = "player"
    return player_view(
        {
            "step": step,
            "position": [20, 20],
            "facing": [0, 1],
            "inventory": {"health": 9, "food": 9, "drink": 9, "energy": 9},
            "achievements": [],
            "sleeping": False,
            "daylight": 1.0,
            "view": view,
        }
    )


class Probe:
    """A goal that records what it was shown and proposes a fixed plan (or passes)."""

    name = "probe"

    def __init__(self, plan: Plan | None) -> None:
        self.plan = plan
        self.calls: list[tuple[int, int]] = []

    def propose(self, agent: Agent) -> Plan | None:
        self.calls.append((agent.memory.step, len(agent.paths.cost)))
        return self.plan


def test_the_default_goals_run_in_the_documented_order() -> None:
    assert tuple(g.name for g in PRIORITY) == DOCUMENTED


def test_the_first_goal_with_actions_wins_and_later_ones_are_not_asked() -> None:
    passing, empty = Probe(None), Probe(([], "nothing"))
    winner, never = Probe((["move_left", "do"], "probe plan")), Probe((["noop"], "unused"))
    planner = Planner(seed=0, goals=[passing, empty, winner, never])
    assert planner.decide(_view()) == (["move_left", "do"], "probe plan")
    # each goal sees the refreshed state: this decision's step and paths over the 63 seen tiles
    assert passing.calls == empty.calls == winner.calls == [(150, 63)]
    assert never.calls == []


def test_no_applicable_goal_means_waiting() -> None:
    assert Planner(seed=0, goals=[Probe(None)]).decide(_view()) == (
        ["noop"],
        "Nothing to do: waiting.",
    )


def test_plans_are_cut_to_the_action_budget() -> None:
    long = Probe((["move_left"] * 12, "far"))
    actions, _ = Planner(seed=0, max_actions=5, goals=[long]).decide(_view())
    assert actions == ["move_left"] * 5
