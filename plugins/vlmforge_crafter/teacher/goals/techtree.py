"""Tech-tree goals: tools, stations, resources and the rarer achievements, in order."""

from __future__ import annotations

from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.navigation import STEPS
from vlmforge_crafter.teacher.rationale import Plan
from vlmforge_crafter.teacher.routines import (
    collect,
    craft,
    craft_table_for,
    drink,
    eat,
    gather_sapling,
    near_station,
    place_furnace,
    wood_needed,
)
from vlmforge_crafter.teacher.rules import MAKE, MOVE_FOR, TOOL_ORDER, has_items

IRON_TOOLS = ("iron_pickaxe", "iron_sword")


class Opening:
    """First thing in an episode: a sapling from the grass, planted at once (two early
    achievements, from the same kind of state in every episode)."""

    name = "opening"

    def propose(self, agent: Agent) -> Plan | None:
        if agent.memory.step >= 100 or agent.done("place_plant"):
            return None
        if agent.inv("sapling"):
            return agent.place("plant", "Planting my first sapling")
        if not agent.done("collect_sapling"):
            return gather_sapling(agent)
        return None


class Basics:
    """Wood, a table, the wooden tools, a first drink and meal, a sapling planted."""

    name = "basics"

    def propose(self, agent: Agent) -> Plan | None:
        wood_goal = wood_needed(agent)
        if not agent.done("place_table") and agent.inv("wood") < 4:
            return collect(agent, "tree", "Collecting wood for a table and tools")
        wooden = TOOL_ORDER[:2]
        if not near_station(agent, ("table",), 25) and any(not agent.inv(t) for t in wooden):
            if agent.inv("wood") >= 3:
                return agent.place("table", "Placing a table")
            return collect(agent, "tree", "Collecting wood for a table")
        for tool in wooden:
            plan = craft(agent, tool)
            if plan:
                return plan
        if any(not agent.inv(t) for t in wooden):
            return collect(agent, "tree", "Collecting wood for wooden tools")
        if not agent.done("collect_drink"):
            plan = agent.go_interact("water", "First drink", times=2, limit=25)
            if plan:
                return plan
        if not agent.done("eat_cow"):
            plan = agent.go_interact("cow", "Hunting a cow", times=agent.blows(3), limit=25)
            if plan:
                return plan
        if not agent.done("collect_sapling") and not agent.inv("sapling"):
            return gather_sapling(agent)
        if agent.inv("sapling") and not agent.done("place_plant"):
            plan = agent.place("plant", "Planting the sapling")
            if plan:
                return plan
        if agent.inv("wood") < min(wood_goal, 5):
            return collect(agent, "tree", "Stocking up on wood")
        return None


class StoneAge:
    """Stone, a placed stone, the stone pickaxe and sword."""

    name = "stone_age"

    def propose(self, agent: Agent) -> Plan | None:
        if not agent.inv("wood_pickaxe"):
            return None
        if not agent.done("collect_stone") or (
            agent.inv("stone") < 5 and not agent.inv("stone_pickaxe")
        ):
            return collect(agent, "stone", "Mining stone")
        if not agent.done("place_stone"):
            plan = agent.place("stone", "Placing a stone")
            if plan:
                return plan
        for tool in ("stone_pickaxe", "stone_sword"):
            if not agent.inv(tool):
                plan = craft(agent, tool)
                if plan:
                    return plan
                item = tool.replace("_", " ")
                if agent.inv("wood") < 1:
                    return collect(agent, "tree", f"Collecting wood for a {item}")
                if agent.inv("stone") < 1:
                    return collect(agent, "stone", f"Mining stone for a {item}")
                return collect(agent, "tree", "Collecting wood for a new table")
        return None


class FurnaceAge:
    """Coal for the iron tools, and a furnace next to a table."""

    name = "furnace_age"

    def propose(self, agent: Agent) -> Plan | None:
        if not agent.inv("stone_pickaxe"):
            return None
        want_iron = sum(1 for t in IRON_TOOLS if not agent.inv(t))
        if agent.inv("coal") < want_iron:
            plan = collect(agent, "coal", "Mining coal")
            if plan:
                return plan
        if not agent.done("place_furnace"):
            if agent.inv("stone") < 5:
                return collect(agent, "stone", "Mining stone for a furnace")
            plan = place_furnace(agent) or craft_table_for(agent, "furnace")
            if plan:
                return plan
        return None


class IronAge:
    """Iron, the iron tools, then diamond."""

    name = "iron_age"

    def propose(self, agent: Agent) -> Plan | None:
        if not agent.inv("stone_pickaxe"):
            return None
        want_iron = sum(1 for t in IRON_TOOLS if not agent.inv(t))
        if agent.inv("iron") < want_iron:
            plan = collect(agent, "iron", "Mining iron")
            if plan:
                return plan
        for tool in IRON_TOOLS:
            if agent.inv(tool):
                continue
            uses = MAKE[tool][0]
            if not has_items(agent.memory.inventory, uses):
                continue
            if agent.inv("wood") < 1:
                return collect(agent, "tree", "Collecting wood for iron tools")
            plan = craft(agent, tool)
            if plan:
                return plan
            if agent.inv("stone") < 4:
                return collect(agent, "stone", "Mining stone for a furnace")
            if agent.inv("wood") < 3:
                return collect(agent, "tree", "Collecting wood for a table by the furnace")
        if agent.inv("iron_pickaxe") and not agent.done("collect_diamond"):
            return collect(agent, "diamond", "Mining diamond")
        return None


class Rare:
    """Defeat a skeleton (in the tunnels) while healthy."""

    name = "rare"

    def propose(self, agent: Agent) -> Plan | None:
        if not agent.done("defeat_skeleton") and agent.inv("health") >= 7:
            plan = agent.go_interact("skeleton", "Hunting a skeleton", times=2, limit=40)
            if plan:
                return plan
            if agent.inv("stone_sword") and agent.memory.step > 1500:
                return agent.explore("skeleton", "Looking for skeletons in the tunnels")
        return None


class Upkeep:
    """Top up drink, food, stone and wood when they are close by."""

    name = "upkeep"

    def propose(self, agent: Agent) -> Plan | None:
        if agent.inv("drink") <= 7:
            plan = drink(agent, limit=20)
            if plan:
                return plan
        if agent.inv("food") <= 7:
            plan = eat(agent, limit=20)
            if plan:
                return plan
        if agent.inv("stone") < 9 and agent.inv("wood_pickaxe"):
            plan = agent.go_interact("stone", "Stocking up on stone", limit=20)
            if plan:
                return plan
        if agent.inv("wood") < 4:
            plan = agent.go_interact("tree", "Stocking up on wood", limit=20)
            if plan:
                return plan
        return None


class Wander:
    """Explore (for iron, or diamond once the iron pickaxe is made); else a random free step."""

    name = "wander"

    def propose(self, agent: Agent) -> Plan | None:
        purpose = "diamond" if agent.inv("iron_pickaxe") else "iron"
        plan = agent.explore(purpose, "Exploring the map")
        if plan:
            return plan
        m = agent.memory
        moves = [MOVE_FOR[d] for d in STEPS if m.free((m.pos[0] + d[0], m.pos[1] + d[1]))]
        if moves:
            return [agent.rng.choice(moves)], "Everything nearby explored: wandering."
        return None
