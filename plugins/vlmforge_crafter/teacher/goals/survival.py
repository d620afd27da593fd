"""Survival goals: fight what is close, drink, eat, and sleep sealed in a shelter."""

from __future__ import annotations

from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.navigation import direction
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.routines import drink, eat, needs
from vlmforge_crafter.teacher.rules import MAKE, MOVE_FOR, TOOL_ORDER, has_items
from vlmforge_crafter.teacher.skills import (
    enclosed,
    find_shelter,
    shelter_actions,
    shelter_ok,
    stations_near,
)


class Fight:
    """Hit a zombie or skeleton next to us; attack or hunt one close by when strong enough."""

    name = "fight"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        foes = sorted(
            (m.distance(p), p, k) for p, k in m.creatures.items() if k in ("zombie", "skeleton")
        )
        if not foes:
            return None
        dist, p, kind = foes[0]
        if dist > 1 and enclosed(m, m.pos):
            return None  # safe behind the walls
        blows = agent.blows({"zombie": 5, "skeleton": 3}[kind])
        if dist == 1:
            d = direction(m.pos, p)
            face = [] if m.facing == d else [MOVE_FOR[d]]
            return face + ["do"] * blows, f"Fighting the {kind} {where(m.pos, p)}."
        if kind == "zombie" and dist <= 3 and agent.inv("health") >= 5:
            plan = agent.go_interact("zombie", "Attacking the zombie", times=blows, limit=6)
            if plan:
                return plan
        want = (
            kind == "skeleton"
            and not agent.done("defeat_skeleton")
            and agent.inv("health") >= 7
            and dist <= 5
        ) or (
            kind == "zombie"
            and not agent.done("defeat_zombie")
            and agent.inv("health") >= 7
            and not m.night
        )
        if want and dist <= 8:
            return agent.go_interact(kind, f"Hunting a {kind}", times=blows, limit=14)
        return None


class CraftHere:
    """Make any missing tool the stations around us allow (one action, never a detour)."""

    name = "craft_here"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        for tool in TOOL_ORDER:
            uses, stations = MAKE[tool]
            if agent.inv(tool) or not has_items(m.inventory, uses):
                continue
            if stations_near(m, m.pos, stations):
                return [f"make_{tool}"], f"Crafting a {tool.replace('_', ' ')} right here."
        return None


class CriticalNeeds:
    """Drink or eat when one is at 2 or less (inside a shelter at night only in an emergency)."""

    name = "critical_needs"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        zombies = any(k == "zombie" and m.distance(p) <= 4 for p, k in m.creatures.items())
        if enclosed(m, m.pos) and (m.night or zombies):
            low = min(agent.inv("drink"), agent.inv("food"))
            if low > 1 and agent.inv("health") > 3:
                return None  # wait for daylight: leaving at night is the bigger risk
        if agent.inv("drink") <= 2:
            plan = drink(agent, limit=400)
            if plan:
                return plan
        if agent.inv("food") <= 2:
            plan = eat(agent, limit=400)
            if plan:
                return plan
        return None


class NeedsBeforeBed:
    """Keep food and drink up; at night only a quick bite or sip on the way to bed."""

    name = "needs_before_bed"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        if enclosed(m, m.pos):
            return None
        if m.night:  # only a quick bite or sip on the way to bed
            if agent.inv("drink") <= 5 and agent.go_interact("water", "", limit=12):
                return drink(agent, limit=12)
            if agent.inv("food") <= 5:
                return agent.go_interact(
                    "cow", "Quick meal before bed", times=agent.blows(3), limit=10
                )
            return None
        return needs(agent)


class Sleep:
    """Sleep when tired or at night, and rest when hurt: always sealed in a pocket."""

    name = "sleep"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        energy, health = agent.inv("energy"), agent.inv("health")
        tired = energy <= 2 or m.night or (agent.shelter is not None and energy < 8)
        hurt = health <= 4
        if enclosed(m, m.pos):
            if energy < 9 and (tired or hurt or m.night):
                return ["sleep"], "Sealed in a shelter: going to sleep."
            zombies = sum(1 for p, k in m.creatures.items() if k == "zombie" and m.distance(p) <= 4)
            if m.night or health < 7 or zombies:
                n = agent.max_actions if not zombies else 2
                return ["noop"] * n, "Resting in the shelter until it is day and I am healed."
            return None
        if not (tired or hurt):
            agent.shelter = None
            return None
        if agent.shelter is not None and not shelter_ok(m, agent.shelter, agent.inv("stone")):
            agent.shelter = None
        if agent.shelter is None:
            urgent = energy <= 2 or hurt or m.night
            found = find_shelter(m, agent.paths, limit=80 if urgent else 40, homes=list(m.plants))
            if found is not None:
                agent.shelter = found[0]
        if agent.shelter is not None:
            s = agent.shelter
            actions = shelter_actions(m, agent.paths, s, agent.max_actions)
            if actions:
                agent.atomic = m.pos in (s.entrance, s.inner, s.back)
                return (
                    actions,
                    f"Tired: building a shelter at the pocket {where(m.pos, s.inner)} to sleep in.",
                )
            agent.shelter = None
        if energy == 0 and not any(k == "zombie" for k in m.creatures.values()):
            return ["sleep"], "Exhausted and no shelter in reach: sleeping in the open."
        if agent.inv("wood_pickaxe") and agent.inv("stone") < 7:
            plan = agent.go_interact(
                "stone", "Night is coming: mining stone to build a shelter", limit=30
            )
            if plan:
                return plan
        if energy <= 2 and agent.inv("wood_pickaxe"):
            return agent.explore("stone", "Tired: looking for rock to dig a shelter in.")
        return None


class Nap:
    """Take the wake_up achievement early: a short nap as soon as energy is below full,
    in daylight with no zombie near and supplies up (it lasts ~10-30 steps)."""

    name = "nap"

    def propose(self, agent: Agent) -> Plan | None:
        m = agent.memory
        if agent.done("wake_up") or agent.inv("energy") >= 9 or m.night:
            return None
        if agent.inv("health") < 6 or min(agent.inv("food"), agent.inv("drink")) < 4:
            return None
        if any(k in ("zombie", "skeleton") and m.distance(p) <= 6 for p, k in m.creatures.items()):
            return None
        return ["sleep"], "Energy below full and nothing hostile near: a short nap (wake_up)."
