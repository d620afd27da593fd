"""The garden: keep a sapling growing behind stone walls near where the agent lives, eat it ripe.

A plant is destroyed by any cow, zombie or skeleton next to it, and it only grows while the
player is within 18 tiles, so it is walled in on all four sides and the agent prefers shelters
near it. Eating it (``do`` on a ripe plant) gives food and the ``eat_plant`` achievement.
"""

from __future__ import annotations

from vlmforge_crafter.teacher.memory import Pos
from vlmforge_crafter.teacher.navigation import adjacent
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.skills import buildable, interact, solid

#: Plants kept growing near the agent (each is food every ~300 steps spent nearby).
GARDEN_SIZE = 3


class GardenGoals:
    """Garden goals, mixed into :class:`vlmforge_crafter.teacher.planner.Planner`."""

    def eat_ripe(self, limit: int) -> Plan | None:
        """Walk to a plant that should be ripe by now and eat it."""
        m = self.memory
        ripe = m.ripe_plants()
        if not ripe:
            return None
        result = interact(m, self.paths, ripe, times=1, max_actions=self.max_actions, limit=limit)
        if result is None:
            return None
        actions, target, _cost = result
        if m.distance(target) == 1 and len(actions) <= 2 and actions[-1] == "do":
            m.plants[target].grown = 0  # eaten now (it starts growing again)
        self._track("eat plant", target)
        return actions, f"Eating my ripe plant {where(m.pos, target)}."

    def garden(self) -> Plan | None:
        m = self.memory
        if not self.done("eat_plant") or self.inv("food") <= 6:
            plan = self.eat_ripe(limit=80)
            if plan:
                return plan
        for p in sorted(m.plants, key=lambda q: (m.distance(q), q)):
            if m.distance(p) > 10:
                continue
            gaps = [q for q in adjacent(p) if not solid(m, q)]
            info = m.plants[p]
            info.protected = not gaps
            if not gaps or not self.inv("stone"):
                continue
            open_tiles = [q for q in gaps if buildable(m, q)]
            plan = self.place(
                "stone",
                f"Walling in my plant {where(m.pos, p)} so nothing tramples it",
                tile_ok=lambda f, tiles=open_tiles: f in tiles,
            )
            if plan:
                return plan
        near = [p for p in m.plants if m.distance(p) <= 24]
        if self.inv("stone") < 5 or len(near) >= GARDEN_SIZE:
            return None
        if not self.done("place_furnace") and self.inv("stone_pickaxe"):
            return None  # the furnace comes first
        if not self.inv("sapling"):
            return self.gather_sapling() if m.step % 300 < 150 else None
        stones = self.inv("stone")

        def site(f: Pos) -> bool:
            around = adjacent(f)
            if any(m.tiles.get(q) == "lava" for q in around):
                return False
            need = [q for q in around if not solid(m, q)]
            return all(buildable(m, q) or q == m.pos for q in need) and len(need) <= stones

        return self.place("plant", "Planting a sapling to eat when it ripens", tile_ok=site)
