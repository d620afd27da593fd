"""The garden: keep a sapling growing behind stone walls near where the agent lives, eat it ripe.

A plant is destroyed by any cow, zombie or skeleton next to it, and it only grows while the
player is within 18 tiles, so it is walled in on all four sides and the agent prefers shelters
near it. Eating it (``do`` on a ripe plant) gives food and the ``eat_plant`` achievement.
"""

from __future__ import annotations

from collections.abc import Callable

from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.memory import Pos
from vlmforge_crafter.teacher.navigation import adjacent
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.routines import eat_ripe, gather_sapling
from vlmforge_crafter.teacher.skills import buildable, solid

#: Plants kept growing near the agent (each is food every ~300 steps spent nearby).
GARDEN_SIZE = 3


class Garden:
    """Eat a ripe plant, wall in the plants near us, plant saplings up to :data:`GARDEN_SIZE`."""

    name = "garden"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        if not agent.done("eat_plant") or agent.inv("food") <= 6:
            plan = eat_ripe(agent, limit=80)
            if plan:
                return plan
        for p in sorted(m.plants, key=lambda q: (m.distance(q), q)):
            if m.distance(p) > 10:
                continue
            gaps = [q for q in adjacent(p) if not solid(m, q)]
            info = m.plants[p]
            info.protected = not gaps
            if not gaps or not agent.inv("stone"):
                continue
            plan = agent.place(
                "stone",
                f"Walling in my plant {where(m.pos, p)} so nothing tramples it",
                tile_ok=_one_of([q for q in gaps if buildable(m, q)]),
            )
            if plan:
                return plan
        near = [p for p in m.plants if m.distance(p) <= 24]
        if agent.inv("stone") < 5 or len(near) >= GARDEN_SIZE:
            return None
        if not agent.done("place_furnace") and agent.inv("stone_pickaxe"):
            return None  # the furnace comes first
        if not agent.inv("sapling"):
            return gather_sapling(agent) if m.step % 300 < 150 else None
        stones = agent.inv("stone")

        def site(f: Pos) -> bool:
            around = adjacent(f)
            if any(m.tiles.get(q) == "lava" for q in around):
                return False
            need = [q for q in around if not solid(m, q)]
            return all(buildable(m, q) or q == m.pos for q in need) and len(need) <= stones

        return agent.place("plant", "Planting a sapling to eat when it ripens", tile_ok=site)


def _one_of(tiles: list[Pos]) -> Callable[[Pos], bool]:
    """A tile test: ``f`` is one of ``tiles``."""
    return lambda f: f in tiles
