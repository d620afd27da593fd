"""Tech-tree goals: tools, stations, resources and the rarer achievements, in order."""

from __future__ import annotations

from vlmforge_crafter.teacher.memory import Pos
from vlmforge_crafter.teacher.navigation import (
    STEPS,
    face_plan,
    route_actions,
)
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.rules import MAKE, MOVE_FOR, TOOL_ORDER, WALKABLE, has_items
from vlmforge_crafter.teacher.skills import (
    face_placeable,
    stations_near,
)


class TechTreeGoals:
    """Tech-tree goals, mixed into :class:`vlmforge_crafter.teacher.planner.Planner`."""

    def wood_needed(self) -> int:
        need = 0
        for tool in TOOL_ORDER:
            if not self.inv(tool):
                need += MAKE[tool][0].get("wood", 0)
        if not self.near_station(("table",), 30):
            need += 2
        return min(need + 1, 9)

    def near_station(self, names: tuple[str, ...], limit: int) -> Pos | None:
        """The cheapest reachable tile with all ``names`` within one tile."""
        m = self.memory
        assert self.paths is not None
        if stations_near(m, m.pos, names):
            return m.pos
        tables = self.targets(names[0])
        best: tuple[int, Pos] | None = None
        for t in tables:
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    w = (t[0] + dx, t[1] + dy)
                    if w not in self.paths.cost or m.tiles.get(w) not in WALKABLE:
                        continue
                    c = self.paths.cost[w]
                    if (
                        c <= limit
                        and (best is None or (c, w) < best)
                        and stations_near(m, w, names)
                    ):
                        best = (c, w)
        return best[1] if best else None

    def craft(self, tool: str) -> Plan | None:
        """Make ``tool`` if we have the materials: at a station in reach, or a fresh one."""
        uses, stations = MAKE[tool]
        if self.inv(tool) or not has_items(self.memory.inventory, uses):
            return None
        m = self.memory
        spot = self.near_station(stations, 25)
        if spot == m.pos:
            return [
                f"make_{tool}"
            ], f"Crafting a {tool.replace('_', ' ')} at the {' and '.join(stations)}."
        if spot is not None:
            assert self.paths is not None
            actions = route_actions(m, self.paths.route(spot), self.max_actions)
            item = tool.replace("_", " ")
            near = " and ".join(stations)
            return actions, f"Going to the {near} {where(m.pos, spot)} to make a {item}."

        if not self.near_station(("table",), 25):
            if self.inv("wood") >= 2 + uses.get("wood", 0):
                return self.place("table", "Placing a table to craft at")
            return None
        if "furnace" in stations and self.inv("stone") >= 4:
            return self.place_furnace()
        return None

    def place(self, item: str, why: str, **kw) -> Plan | None:
        moves = face_placeable(self.memory, item, **kw)
        if moves is None:
            return None
        return [*moves, f"place_{item}"], f"{why}."

    def place_furnace(self) -> Plan | None:
        m = self.memory
        spot = self.near_station(("table",), 25)
        if spot is None:
            return None
        if spot != m.pos and not stations_near(m, m.pos, ("table",)):
            assert self.paths is not None
            return route_actions(m, self.paths.route(spot), self.max_actions), (
                f"Going next to the table {where(m.pos, spot)} to place a furnace."
            )
        return self.place(
            "furnace",
            "Placing a furnace next to the table",
            stand_ok=lambda p: stations_near(m, p, ("table",)),
        )

    def opening(self) -> Plan | None:
        """First thing in an episode: a sapling from the grass, planted at once (two early
        achievements, from the same kind of state in every episode)."""
        if self.memory.step >= 100 or self.done("place_plant"):
            return None
        if self.inv("sapling"):
            return self.place("plant", "Planting my first sapling")
        if not self.done("collect_sapling"):
            return self.gather_sapling()
        return None

    def basics(self) -> Plan | None:
        wood_goal = self.wood_needed()
        if not self.done("place_table") and self.inv("wood") < 4:
            return self.collect("tree", "Collecting wood for a table and tools")
        if not self.near_station(("table",), 25) and any(not self.inv(t) for t in TOOL_ORDER[:2]):
            if self.inv("wood") >= 3:
                return self.place("table", "Placing a table")
            return self.collect("tree", "Collecting wood for a table")
        for tool in TOOL_ORDER[:2]:
            plan = self.craft(tool)
            if plan:
                return plan
        if any(not self.inv(t) for t in TOOL_ORDER[:2]):
            return self.collect("tree", "Collecting wood for wooden tools")
        if not self.done("collect_drink"):
            plan = self.go_interact("water", "First drink", times=2, limit=25)
            if plan:
                return plan
        if not self.done("eat_cow"):
            plan = self.go_interact("cow", "Hunting a cow", times=self.blows(3), limit=25)
            if plan:
                return plan
        if not self.done("collect_sapling") and not self.inv("sapling"):
            return self.gather_sapling()
        if self.inv("sapling") and not self.done("place_plant"):
            plan = self.place("plant", "Planting the sapling")
            if plan:
                return plan
        if self.inv("wood") < min(wood_goal, 5):
            return self.collect("tree", "Stocking up on wood")
        return None

    def gather_sapling(self) -> Plan | None:
        m = self.memory

        def facing_grass(pos: Pos, facing: Pos) -> bool:
            f = (pos[0] + facing[0], pos[1] + facing[1])
            return m.tiles.get(f) == "grass" and f not in m.creatures

        moves = face_plan(m, facing_grass, 3)
        if moves is None:
            return self.explore("cow", "Looking for grass to gather a sapling")
        return [*moves, "do", "do", "do", "do"], "Searching the grass for a sapling."

    def collect(self, name: str, why: str, limit: int = 400) -> Plan | None:
        plan = self.go_interact(name, why, limit=limit)
        if plan:
            return plan
        return self.explore(name, f"{why}: none known, exploring")

    def stone_age(self) -> Plan | None:
        if not self.inv("wood_pickaxe"):
            return None
        if not self.done("collect_stone") or (
            self.inv("stone") < 5 and not self.inv("stone_pickaxe")
        ):
            return self.collect("stone", "Mining stone")
        if not self.done("place_stone"):
            plan = self.place("stone", "Placing a stone")
            if plan:
                return plan
        for tool in ("stone_pickaxe", "stone_sword"):
            if not self.inv(tool):
                plan = self.craft(tool)
                if plan:
                    return plan
                if self.inv("wood") < 1:
                    return self.collect("tree", f"Collecting wood for a {tool.replace('_', ' ')}")
                if self.inv("stone") < 1:
                    return self.collect("stone", f"Mining stone for a {tool.replace('_', ' ')}")
                return self.collect("tree", "Collecting wood for a new table")
        return None

    def furnace_age(self) -> Plan | None:
        """Coal for the iron tools, and a furnace next to a table."""
        if not self.inv("stone_pickaxe"):
            return None
        want_iron = sum(1 for t in ("iron_pickaxe", "iron_sword") if not self.inv(t))
        if self.inv("coal") < want_iron:
            plan = self.collect("coal", "Mining coal")
            if plan:
                return plan
        if not self.done("place_furnace"):
            if self.inv("stone") < 5:
                return self.collect("stone", "Mining stone for a furnace")
            plan = self.place_furnace() or self.craft_table_for("furnace")
            if plan:
                return plan
        return None

    def iron_age(self) -> Plan | None:
        if not self.inv("stone_pickaxe"):
            return None
        want_iron = sum(1 for t in ("iron_pickaxe", "iron_sword") if not self.inv(t))
        if self.inv("iron") < want_iron:
            plan = self.collect("iron", "Mining iron")
            if plan:
                return plan
        for tool in ("iron_pickaxe", "iron_sword"):
            if self.inv(tool):
                continue
            uses = MAKE[tool][0]
            if not has_items(self.memory.inventory, uses):
                continue
            if self.inv("wood") < 1:
                return self.collect("tree", "Collecting wood for iron tools")
            plan = self.craft(tool)
            if plan:
                return plan
            if self.inv("stone") < 4:
                return self.collect("stone", "Mining stone for a furnace")
            if self.inv("wood") < 3:
                return self.collect("tree", "Collecting wood for a table by the furnace")
        if self.inv("iron_pickaxe") and not self.done("collect_diamond"):
            return self.collect("diamond", "Mining diamond")
        return None

    def craft_table_for(self, what: str) -> Plan | None:
        if self.near_station(("table",), 25):
            return None
        if self.inv("wood") >= 2:
            return self.place("table", f"Placing a table to put a {what} by")
        return self.collect("tree", f"Collecting wood for a table to put a {what} by")

    def rare(self) -> Plan | None:
        m = self.memory
        if not self.done("defeat_skeleton") and self.inv("health") >= 7:
            plan = self.go_interact("skeleton", "Hunting a skeleton", times=2, limit=40)
            if plan:
                return plan
            if self.inv("stone_sword") and m.step > 1500:
                return self.explore("skeleton", "Looking for skeletons in the tunnels")
        return None

    def upkeep(self) -> Plan | None:
        if self.inv("drink") <= 7:
            plan = self.drink(limit=20)
            if plan:
                return plan
        if self.inv("food") <= 7:
            plan = self.eat(limit=20)
            if plan:
                return plan
        if self.inv("stone") < 9 and self.inv("wood_pickaxe"):
            plan = self.go_interact("stone", "Stocking up on stone", limit=20)
            if plan:
                return plan
        if self.inv("wood") < 4:
            plan = self.go_interact("tree", "Stocking up on wood", limit=20)
            if plan:
                return plan
        return None

    def wander(self) -> Plan | None:
        purpose = "diamond" if self.inv("iron_pickaxe") else "iron"
        plan = self.explore(purpose, "Exploring the map")
        if plan:
            return plan
        m = self.memory
        moves = [MOVE_FOR[d] for d in STEPS if m.free((m.pos[0] + d[0], m.pos[1] + d[1]))]
        if moves:
            return [self.rng.choice(moves)], "Everything nearby explored: wandering."
        return None
