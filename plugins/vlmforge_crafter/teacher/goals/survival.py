"""Survival goals: fight what is close, drink, eat, and sleep sealed in a shelter."""

from __future__ import annotations

from vlmforge_crafter.teacher.navigation import (
    direction,
    route_actions,
)
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.rules import MAKE, MOVE_FOR, TOOL_ORDER, has_items
from vlmforge_crafter.teacher.skills import (
    enclosed,
    find_shelter,
    shelter_actions,
    shelter_ok,
    stations_near,
)


class SurvivalGoals:
    """Survival goals, mixed into :class:`vlmforge_crafter.teacher.planner.Planner`."""

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
            kind == "skeleton"
            and not self.done("defeat_skeleton")
            and self.inv("health") >= 7
            and dist <= 5
        ) or (
            kind == "zombie"
            and not self.done("defeat_zombie")
            and self.inv("health") >= 7
            and not m.night
        )
        if want and dist <= 8:
            return self.go_interact(kind, f"Hunting a {kind}", times=blows, limit=14)
        return None

    def craft_here(self) -> Plan | None:
        """Make any missing tool the stations around us allow (one action, never a detour)."""
        m = self.memory
        for tool in TOOL_ORDER:
            uses, stations = MAKE[tool]
            if self.inv(tool) or not has_items(m.inventory, uses):
                continue
            if stations_near(m, m.pos, stations):
                return [f"make_{tool}"], f"Crafting a {tool.replace('_', ' ')} right here."
        return None

    def critical_needs(self) -> Plan | None:
        m = self.memory
        zombies = any(k == "zombie" and m.distance(p) <= 4 for p, k in m.creatures.items())
        if enclosed(m, m.pos) and (m.night or zombies):
            low = min(self.inv("drink"), self.inv("food"))
            if low > 1 and self.inv("health") > 3:
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
        if plan is None and (self.inv("drink") <= 4 or not self.memory.known("water")):
            return self.explore("water", "Thirsty and no water known: exploring for water.")
        return plan

    def eat(self, limit: int) -> Plan | None:
        m = self.memory
        plan = self.eat_ripe(limit)
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
            found = find_shelter(m, self.paths, limit=80 if urgent else 40, homes=list(m.plants))
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
        if self.inv("wood_pickaxe") and self.inv("stone") < 7:
            plan = self.go_interact(
                "stone", "Night is coming: mining stone to build a shelter", limit=30
            )
            if plan:
                return plan
        if energy <= 2 and self.inv("wood_pickaxe"):
            return self.explore("stone", "Tired: looking for rock to dig a shelter in.")
        return None

    def nap(self) -> Plan | None:
        """Take the wake_up achievement early: a short nap as soon as energy is below full,
        in daylight with no zombie near and supplies up (it lasts ~10-30 steps)."""
        m = self.memory
        if self.done("wake_up") or self.inv("energy") >= 9 or m.night:
            return None
        if self.inv("health") < 6 or min(self.inv("food"), self.inv("drink")) < 4:
            return None
        if any(k in ("zombie", "skeleton") and m.distance(p) <= 6 for p, k in m.creatures.items()):
            return None
        return ["sleep"], "Energy below full and nothing hostile near: a short nap (wake_up)."

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
        # opportunistic: a cow or water right here is worth a few steps even when not hungry
        if self.inv("food") <= 7:
            plan = self.go_interact("cow", "A cow close by: eating", times=self.blows(3), limit=6)
            if plan:
                return plan
        if self.inv("drink") <= 7:
            plan = self.go_interact(
                "water", "Water close by: drinking", times=9 - self.inv("drink"), limit=4
            )
            if plan:
                return plan
        return None

    def damage(self) -> int:
        """Damage of one blow with the best sword in the inventory."""
        if self.inv("iron_sword"):
            return 5
        if self.inv("stone_sword"):
            return 3
        return 2 if self.inv("wood_sword") else 1

    def blows(self, health: int) -> int:
        return max(1, -(-health // self.damage()))
