"""The agent's brain: each decision, the first goal (in priority order) that applies wins.

Priorities: stay alive (fight what is adjacent, drink, eat, sleep sealed in), then climb the
tech tree (wood, table, wood tools, sapling, plant, stone, stone tools, coal, furnace, iron,
iron tools, diamond), then the rarer achievements (eat a ripe plant, defeat a skeleton), then
keep supplies up and explore.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from vlmforge_scripted.explore import Explorer
from vlmforge_scripted.memory import Pos, WorldMemory
from vlmforge_scripted.navigation import (
    STEPS,
    Paths,
    adjacent,
    dijkstra,
    direction,
    face_plan,
    route_actions,
)
from vlmforge_scripted.rationale import where
from vlmforge_scripted.rules import MAKE, MOVE_FOR, WALKABLE, has_items
from vlmforge_scripted.skills import (
    Shelter,
    enclosed,
    face_placeable,
    find_shelter,
    interact,
    shelter_actions,
    shelter_ok,
    stations_near,
)

Plan = tuple[list[str], str]
TOOL_ORDER = (
    "wood_pickaxe",
    "wood_sword",
    "stone_pickaxe",
    "stone_sword",
    "iron_pickaxe",
    "iron_sword",
)


class Planner:
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
        self.last_pos: Pos | None = None
        self.still = 0
        self.atomic = False

    # -- entry point ---------------------------------------------------------------------------
    def decide(self, gt: dict) -> Plan:
        m = self.memory
        m.update(gt)
        if m.sleeping:
            n = self.max_actions if enclosed(m, m.pos) else 1
            return ["noop"] * n, "Asleep: resting until energy is full."
        self.still = self.still + 1 if m.pos == self.last_pos else 0
        self.last_pos = m.pos
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
        if self.still >= 12 and all(a.startswith("move_") or a == "noop" for a in actions):
            moves = [a for a, d in MOVE_FOR.items() if m.free((m.pos[0] + a[0], m.pos[1] + a[1]))]
            if moves:
                actions = [self.rng.choice(moves)]
                why = "Stuck in place: stepping aside to get unstuck."
                self.still = 0
        return actions[:limit], why

    def _goals(self) -> list[Callable[[], Plan | None]]:
        return [
            self.fight,
            self.critical_needs,
            self.needs_before_bed,
            self.sleep,
            self.basics,
            self.stone_age,
            self.iron_age,
            self.rare,
            self.upkeep,
            self.wander,
        ]

    # -- helpers -------------------------------------------------------------------------------
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

    def damage(self) -> int:
        """Damage of one blow with the best sword in the inventory."""
        if self.inv("iron_sword"):
            return 5
        if self.inv("stone_sword"):
            return 3
        return 2 if self.inv("wood_sword") else 1

    def blows(self, health: int) -> int:
        return max(1, -(-health // self.damage()))

    # -- survival ------------------------------------------------------------------------------
    def fight(self) -> Plan | None:
        m = self.memory
        foes = sorted(
            (m.distance(p), p, k) for p, k in m.creatures.items() if k in ("zombie", "skeleton")
        )
        if not foes:
            return None
        dist, p, kind = foes[0]
        if dist > 1 and enclosed(m, m.pos):
            return None  # safe behind the walls
        blows = self.blows({"zombie": 5, "skeleton": 3}[kind])
        if dist == 1:
            d = direction(m.pos, p)
            face = [] if m.facing == d else [MOVE_FOR[d]]
            return face + ["do"] * blows, f"Fighting the {kind} {where(m.pos, p)}."
        if kind == "zombie" and dist <= 3 and self.inv("health") >= 5:
            plan = self.go_interact("zombie", "Attacking the zombie", times=blows, limit=6)
            if plan:
                return plan
        want = (
            kind == "skeleton" and not self.done("defeat_skeleton") and self.inv("health") >= 7
        ) or (kind == "zombie" and not self.done("defeat_zombie") and self.inv("health") >= 7)
        if want and dist <= 8:
            return self.go_interact(kind, f"Hunting a {kind}", times=blows, limit=14)
        return None

    def critical_needs(self) -> Plan | None:
        m = self.memory
        zombies = any(k == "zombie" and m.distance(p) <= 4 for p, k in m.creatures.items())
        if enclosed(m, m.pos) and (m.night or zombies):
            low = min(self.inv("drink"), self.inv("food"))
            if low > 0 or self.inv("health") > 4:
                return None  # wait for daylight: leaving at night is the bigger risk
        if self.inv("drink") <= 2:
            plan = self.drink(limit=400)
            if plan:
                return plan
        if self.inv("food") <= 2:
            plan = self.eat(limit=400)
            if plan:
                return plan
        return None

    def drink(self, limit: int, upto: int = 9) -> Plan | None:
        times = max(1, upto - self.inv("drink"))
        plan = self.go_interact("water", "Drinking", times=min(times, 6), limit=limit)
        if plan is None and self.inv("drink") <= 4:
            return self.explore("water", "Thirsty and no water known: exploring for water.")
        return plan

    def eat(self, limit: int) -> Plan | None:
        m = self.memory
        ripe = [p for p in m.ripe_plants() if p in m.creatures]
        if ripe:
            plan = self.go_interact("plant", "Eating a ripe plant", limit=limit)
            if plan:
                return plan
        plan = self.go_interact("cow", "Hunting a cow for food", times=self.blows(3), limit=limit)
        if plan:
            return plan
        remembered = sorted((m.distance(p), p) for p in m.cows if p not in self.banned)
        assert self.paths is not None
        for _, p in remembered:
            if p in self.paths.cost and self.paths.cost[p] <= limit:
                self._track("cow-memory", p)
                actions = route_actions(m, self.paths.route(p), self.max_actions)
                if actions:
                    return actions, f"Hungry: going back to where I saw a cow ({where(m.pos, p)})."
        if self.inv("food") <= 4:
            return self.explore("cow", "Hungry and no cow in sight: exploring grassland.")
        return None

    def sleep(self) -> Plan | None:
        """Sleep when tired or at night, and rest when hurt: always sealed in a pocket."""
        m = self.memory
        energy, health = self.inv("energy"), self.inv("health")
        tired = energy <= 2 or m.night or (self.shelter is not None and energy < 8)
        hurt = health <= 4
        if enclosed(m, m.pos):
            if energy < 9 and (tired or hurt or m.night):
                return ["sleep"], "Sealed in a shelter: going to sleep."
            zombies = sum(1 for p, k in m.creatures.items() if k == "zombie" and m.distance(p) <= 4)
            if m.night or health < 7 or zombies:
                n = self.max_actions if not zombies else 2
                return ["noop"] * n, "Resting in the shelter until it is day and I am healed."
            return None
        if not (tired or hurt):
            self.shelter = None
            return None
        assert self.paths is not None
        if self.shelter is not None and not shelter_ok(m, self.shelter, self.inv("stone")):
            self.shelter = None
        if self.shelter is None:
            urgent = energy <= 2 or hurt or m.night
            found = find_shelter(m, self.paths, limit=80 if urgent else 40)
            if found is not None:
                self.shelter = found[0]
        if self.shelter is not None:
            actions = shelter_actions(m, self.paths, self.shelter, self.max_actions)
            if actions:
                self.atomic = m.pos in (
                    self.shelter.entrance,
                    self.shelter.inner,
                    self.shelter.back,
                )
                s = self.shelter
                return (
                    actions,
                    f"Tired: building a shelter at the pocket {where(m.pos, s.inner)} to sleep in.",
                )
            self.shelter = None
        if energy == 0 and not any(k == "zombie" for k in m.creatures.values()):
            return ["sleep"], "Exhausted and no shelter in reach: sleeping in the open."
        if energy <= 2 and self.inv("wood_pickaxe"):
            return self.explore("stone", "Tired: looking for rock to dig a shelter in.")
        return None

    def needs_before_bed(self) -> Plan | None:
        m = self.memory
        if enclosed(m, m.pos):
            return None
        if m.night:  # only a quick bite or sip on the way to bed
            if self.inv("drink") <= 5 and self.go_interact("water", "", limit=12):
                return self.drink(limit=12)
            if self.inv("food") <= 5:
                return self.go_interact(
                    "cow", "Quick meal before bed", times=self.blows(3), limit=10
                )
            return None
        return self.needs()

    def needs(self) -> Plan | None:
        if self.inv("drink") <= 5:
            plan = self.drink(limit=80)
            if plan:
                return plan
        if self.inv("food") <= 6:
            plan = self.eat(limit=80)
            if plan:
                return plan
        return None

    # -- the tech tree ------------------------------------------------------------------------
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
            return (
                actions,
                f"Going to the {' and '.join(stations)} {where(m.pos, spot)} to make a {tool.replace('_', ' ')}.",
            )
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

    def basics(self) -> Plan | None:
        m = self.memory
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

    def iron_age(self) -> Plan | None:
        if not self.inv("stone_pickaxe"):
            return None
        want_iron = sum(1 for t in ("iron_pickaxe", "iron_sword") if not self.inv(t))
        if self.inv("coal") < want_iron:
            plan = self.collect("coal", "Mining coal")
            if plan:
                return plan
        if not self.done("place_furnace") and self.inv("stone") >= 5:
            plan = self.place_furnace() or self.craft_table_for("furnace")
            if plan:
                return plan
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

    # -- rarer achievements --------------------------------------------------------------------
    def rare(self) -> Plan | None:
        m = self.memory
        if not self.done("eat_plant"):
            plan = self.plant_goal()
            if plan:
                return plan
        if not self.done("defeat_skeleton") and self.inv("health") >= 7:
            plan = self.go_interact("skeleton", "Hunting a skeleton", times=2, limit=40)
            if plan:
                return plan
            if self.inv("stone_sword") and m.step > 1500:
                return self.explore("skeleton", "Looking for skeletons in the tunnels")
        return None

    def plant_goal(self) -> Plan | None:
        m = self.memory
        ripe = [p for p in m.ripe_plants() if p in m.creatures]
        if ripe:
            plan = self.go_interact("plant", "Eating the ripe plant", limit=60)
            if plan:
                return plan
        guarded = [p for p, info in m.plants.items() if info.protected]
        for p in list(m.plants):
            info = m.plants[p]
            walls = [q for q in adjacent(p) if m.tiles.get(q) in WALKABLE]
            if not walls:
                info.protected = True
            elif self.inv("stone") and m.distance(p) <= 6:
                plan = self.place(
                    "stone",
                    "Walling in the plant so nothing tramples it",
                    tile_ok=lambda f, walls=walls: f in walls,
                )
                if plan:
                    return plan
        if not guarded and not any(m.distance(p) <= 6 for p in m.plants):
            if self.inv("sapling") and self.inv("stone") >= 4:
                return self.place("plant", "Planting a sapling to eat later")
            if not self.inv("sapling") and self.inv("stone") >= 4:
                return self.gather_sapling()
        return None

    def upkeep(self) -> Plan | None:
        m = self.memory
        if self.inv("drink") <= 7:
            plan = self.drink(limit=20)
            if plan:
                return plan
        if self.inv("food") <= 6:
            plan = self.eat(limit=20)
            if plan:
                return plan
        if self.inv("stone") < 6 and self.inv("wood_pickaxe"):
            plan = self.go_interact("stone", "Stocking up on stone", limit=20)
            if plan:
                return plan
        if self.inv("wood") < 4:
            plan = self.go_interact("tree", "Stocking up on wood", limit=20)
            if plan:
                return plan
        guarded = [p for p, info in m.plants.items() if info.protected]
        if guarded and not self.done("eat_plant"):
            p = min(guarded, key=m.distance)
            if m.distance(p) > 8:
                assert self.paths is not None
                stand = [q for q in adjacent(p) if q in self.paths.cost]
                for q in sorted(stand, key=lambda q: self.paths.cost[q]):
                    actions = route_actions(m, self.paths.route(q), self.max_actions)
                    if actions:
                        return (
                            actions,
                            f"Staying near my plant ({where(m.pos, p)}) while it ripens.",
                        )
            return ["noop"], "Waiting by my plant while it ripens."
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
