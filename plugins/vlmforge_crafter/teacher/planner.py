"""The agent's brain: each decision, the first goal (in priority order) that applies wins.

Priorities: stay alive (fight what is adjacent, drink, eat, sleep sealed in), then climb the
tech tree (wood, table, wood tools, sapling, plant, stone, stone tools, coal, furnace, iron,
iron tools, diamond), then the rarer achievements (eat a ripe plant, defeat a skeleton), then
keep supplies up and explore.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from vlmforge_crafter.ground_truth import PlayerView
from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.goals import Goal
from vlmforge_crafter.teacher.goals.garden import Garden
from vlmforge_crafter.teacher.goals.survival import (
    CraftHere,
    CriticalNeeds,
    Fight,
    Nap,
    NeedsBeforeBed,
    Sleep,
)
from vlmforge_crafter.teacher.goals.techtree import (
    Basics,
    FurnaceAge,
    IronAge,
    Opening,
    Rare,
    StoneAge,
    Upkeep,
    Wander,
)
from vlmforge_crafter.teacher.navigation import dijkstra
from vlmforge_crafter.teacher.rationale import Plan
from vlmforge_crafter.teacher.rules import MOVE_FOR
from vlmforge_crafter.teacher.skills import enclosed

#: The goals in priority order: the first one that proposes actions decides.
PRIORITY: tuple[Goal, ...] = (
    Fight(),
    CraftHere(),
    CriticalNeeds(),
    NeedsBeforeBed(),
    Sleep(),
    Nap(),
    Opening(),
    Basics(),
    StoneAge(),
    FurnaceAge(),
    Garden(),
    IronAge(),
    Rare(),
    Upkeep(),
    Wander(),
)
#: Decisions in a row that changed nothing before the agent steps aside at random.
STUCK_AFTER = 10


class Planner:
    """Decides the next few primitive actions from memory (see the module docstring)."""

    def __init__(self, seed: int, max_actions: int = 8, goals: Sequence[Goal] = PRIORITY):
        self.agent = Agent(rng=random.Random(seed), max_actions=max(1, max_actions))
        self.goals = tuple(goals)

    def decide(self, view: PlayerView) -> Plan:
        a = self.agent
        m = a.memory
        m.update(view)
        if m.sleeping:
            n = a.max_actions if enclosed(m, m.pos) else 1
            return ["noop"] * n, "Asleep: resting until energy is full."
        state = (m.pos, m.facing, tuple(sorted(m.inventory.items())))
        a.still = a.still + 1 if state == a.last_state else 0
        a.last_state = state
        a.banned = {p: s for p, s in a.banned.items() if s > m.step}
        a.paths = dijkstra(m, avoid=set())
        a.atomic = False
        for goal in self.goals:
            plan = goal.propose(a)
            if plan and plan[0]:
                return self._finish(plan)
        return self._finish((["noop"], "Nothing to do: waiting."))

    def _finish(self, plan: Plan) -> Plan:
        """Cut the plan short near danger, and step aside when plans keep changing nothing."""
        actions, why = plan
        a = self.agent
        m = a.memory
        danger = any(
            (k == "zombie" and m.distance(p) <= 4) or (k == "skeleton" and m.distance(p) <= 5)
            for p, k in m.creatures.items()
        )
        limit = 2 if danger and not a.atomic else a.max_actions
        resting = all(x in ("noop", "sleep") for x in actions)
        if a.still >= STUCK_AFTER and not resting:  # the same plan keeps changing nothing
            moves = [
                name for d, name in MOVE_FOR.items() if m.free((m.pos[0] + d[0], m.pos[1] + d[1]))
            ]
            if moves:
                actions = [a.rng.choice(moves)]
                why = "Stuck in place: stepping aside to get unstuck."
                a.still = 0
                a.shelter = None
                a.explorer.target = None
        return actions[:limit], why
