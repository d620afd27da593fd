"""Exploration: pick an unseen tile worth visiting (biased by what the agent is looking for)."""

from __future__ import annotations

import random

from vlmforge_crafter.teacher.memory import Pos, WorldMemory
from vlmforge_crafter.teacher.navigation import Paths, dijkstra, route_actions

#: Tiles that hint the sought thing is near an unseen tile.
HINTS: dict[str, frozenset[str]] = {
    "tree": frozenset({"tree"}),
    "water": frozenset({"water", "sand"}),
    "cow": frozenset({"grass"}),
    "stone": frozenset({"stone", "coal", "iron", "path"}),
    "coal": frozenset({"stone", "coal"}),
    "iron": frozenset({"stone", "iron", "path", "lava", "coal"}),
    "diamond": frozenset({"stone", "iron", "path", "lava", "diamond"}),
    "skeleton": frozenset({"path"}),
}


#: Purposes for which known but long-unseen tiles are worth a second look (creatures move).
REVISIT: dict[str, frozenset[str]] = {"cow": frozenset({"grass"}), "skeleton": frozenset({"path"})}


class Explorer:
    """Chooses and keeps an exploration target until it is seen, unreachable or stale."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.target: Pos | None = None
        self.purpose = ""
        self.since = 0

    def actions(self, memory: WorldMemory, purpose: str, max_actions: int) -> list[str]:
        paths = dijkstra(memory, explore=True, max_cost=250)
        target = self.target
        stale = memory.step - self.since > 120
        if (
            target is None
            or purpose != self.purpose
            or stale
            or target == memory.pos
            or target not in paths.cost
            or (memory.tiles.get(target) is not None and purpose not in REVISIT)
        ):
            target = self._choose(memory, paths, purpose)
            self.target, self.purpose, self.since = target, purpose, memory.step
        if target is None:
            return []
        if memory.tiles.get(target) is not None:  # revisiting a stale spot
            if target == memory.pos:
                self.target = None
                return []
            return route_actions(memory, dijkstra(memory).route(target), max_actions)
        return route_actions(memory, paths.route(target), max_actions)

    def _choose(self, memory: WorldMemory, paths: Paths, purpose: str) -> Pos | None:
        hints = HINTS.get(purpose, frozenset())
        best: tuple[float, Pos] | None = None
        for p, cost in paths.cost.items():
            if memory.tiles.get(p) is not None:
                continue
            score = cost + self.rng.uniform(0, 6)
            if cost < 6:
                score += 8  # right next to us: the view will reveal it anyway
            if hints:
                near = 0
                for dx in (-3, -1, 0, 1, 3):
                    for dy in (-3, -1, 0, 1, 3):
                        if memory.tiles.get((p[0] + dx, p[1] + dy)) in hints:
                            near += 1
                score -= min(near, 6) * 4
            if best is None or (score, p) < best:
                best = (score, p)
        if purpose in REVISIT:
            stale = self._stale(memory, paths, purpose)
            if stale is not None and (best is None or stale[0] < best[0]):
                best = stale
        return best[1] if best else None

    def _stale(self, memory: WorldMemory, paths: Paths, purpose: str) -> tuple[float, Pos] | None:
        """A known tile of the right kind that has not been looked at for a long time."""
        kinds = REVISIT[purpose]
        best: tuple[float, Pos] | None = None
        for p, cost in paths.cost.items():
            if memory.tiles.get(p) not in kinds or cost < 8:
                continue
            age = memory.step - memory.seen_at.get(p, 0)
            if age < 150:
                continue
            score = cost + self.rng.uniform(0, 6) - min(age, 900) / 15
            if best is None or (score, p) < best:
                best = (score, p)
        return best
