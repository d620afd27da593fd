"""The agent's brain: each decision, the first goal (in priority order) that applies wins.

Priorities: stay alive (fight what is adjacent, drink, eat, sleep sealed in), then climb the
tech tree (wood, table, wood tools, sapling, plant, stone, stone tools, coal, furnace, iron,
iron tools, diamond), then the rarer achievements (eat a ripe plant, defeat a skeleton), then
keep supplies up and explore.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from vlmforge_crafter.teacher.explore import Explorer
from vlmforge_crafter.teacher.goals.garden import GardenGoals
from vlmforge_crafter.teacher.goals.survival import SurvivalGoals
from vlmforge_crafter.teacher.goals.techtree import TechTreeGoals
from vlmforge_crafter.teacher.memory import Pos, WorldMemory
from vlmforge_crafter.teacher.navigation import (
    Paths,
    dijkstra,
)
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.rules import MOVE_FOR
from vlmforge_crafter.teacher.skills import (
    Shelter,
    enclosed,
    interact,
)


class Planner(SurvivalGoals, TechTreeGoals, GardenGoals):
    """Decides the next few primitive actions from memory (see the module docstring)."""

    def __init__(self, seed: int, max_actions: int = 8):
        self.memory = WorldMemory()
        self.rng = random.Random(seed)
        self.max_actions = max(1, max_actions)
        self.explorer = Explorer(self.rng)
        self.shelter: Shelter | None = None
        self.paths: Paths | None = None
        self.banned: dict[Pos, int] = {}  # targets to leave alone until a step
        self.focus: tuple[str, Pos] | None = None
        self.focus_count = 0
        self.last_pos: object = None  # (position, facing, inventory) at the last decision
        self.still = 0
        self.atomic = False

    def decide(self, gt: dict) -> Plan:
        m = self.memory
        m.update(gt)
        if m.sleeping:
            n = self.max_actions if enclosed(m, m.pos) else 1
            return ["noop"] * n, "Asleep: resting until energy is full."
        state = (m.pos, m.facing, tuple(sorted(m.inventory.items())))
        self.still = self.still + 1 if state == self.last_pos else 0
        self.last_pos = state
        self.banned = {p: s for p, s in self.banned.items() if s > m.step}
        self.paths = dijkstra(m, avoid=set())
        self.atomic = False
        for goal in self._goals():
            plan = goal()
            if plan and plan[0]:
                return self._finish(plan)
        return self._finish((["noop"], "Nothing to do: waiting."))

    def _finish(self, plan: Plan) -> Plan:
        actions, why = plan
        m = self.memory
        danger = any(
            (k == "zombie" and m.distance(p) <= 4) or (k == "skeleton" and m.distance(p) <= 5)
            for p, k in m.creatures.items()
        )
        limit = 2 if danger and not self.atomic else self.max_actions
        resting = all(a in ("noop", "sleep") for a in actions)
        if self.still >= 10 and not resting:  # the same plan keeps changing nothing
            moves = [
                name for d, name in MOVE_FOR.items() if m.free((m.pos[0] + d[0], m.pos[1] + d[1]))
            ]
            if moves:
                actions = [self.rng.choice(moves)]
                why = "Stuck in place: stepping aside to get unstuck."
                self.still = 0
                self.shelter = None
                self.explorer.target = None
        return actions[:limit], why

    def _goals(self) -> list[Callable[[], Plan | None]]:
        return [
            self.fight,
            self.craft_here,
            self.critical_needs,
            self.needs_before_bed,
            self.sleep,
            self.nap,
            self.opening,
            self.basics,
            self.stone_age,
            self.furnace_age,
            self.garden,
            self.iron_age,
            self.rare,
            self.upkeep,
            self.wander,
        ]

    def inv(self, name: str) -> int:
        return self.memory.inventory.get(name, 0)

    def done(self, achievement: str) -> bool:
        return achievement in self.memory.achievements

    def targets(self, name: str) -> list[Pos]:
        m = self.memory
        if name in ("cow", "zombie", "skeleton", "plant"):
            found = [p for p, k in m.creatures.items() if k == name]
        else:
            found = m.known(name)
        return [p for p in found if p not in self.banned]

    def go_interact(
        self, name: str, what: str, *, times: int = 1, limit: int = 400, final: str = "do"
    ) -> Plan | None:
        m = self.memory
        assert self.paths is not None
        result = interact(
            m,
            self.paths,
            self.targets(name),
            times=times,
            max_actions=self.max_actions,
            limit=limit,
            final=final,
        )
        if result is None:
            return None
        actions, target, _cost = result
        self._track(what, target)
        return actions, f"{what}: {name} {where(m.pos, target)}."

    def _track(self, what: str, target: Pos) -> None:
        """Give up on a target that many decisions in a row have not reached."""
        if self.focus == (what, target):
            self.focus_count += 1
            if self.focus_count > 40:
                self.banned[target] = self.memory.step + 400
                self.focus, self.focus_count = None, 0
        else:
            self.focus, self.focus_count = (what, target), 0

    def explore(self, purpose: str, why: str) -> Plan | None:
        actions = self.explorer.actions(self.memory, purpose, self.max_actions)
        return (actions, why) if actions else None
