"""Routines several goals share: drink, eat, collect, craft at a station, gather a sapling.

Each takes the :class:`~vlmforge_crafter.teacher.agent.Agent` and returns a plan, or None when
it cannot apply right now.
"""

from __future__ import annotations

from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.memory import Pos
from vlmforge_crafter.teacher.navigation import face_plan, route_actions
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.rules import MAKE, TOOL_ORDER, WALKABLE, has_items
from vlmforge_crafter.teacher.skills import interact, stations_near

# -- food and water ----------------------------------------------------------------------------


def drink(agent: Agent, limit: int, upto: int = 9) -> Plan | None:
    times = max(1, upto - agent.inv("drink"))
    plan = agent.go_interact("water", "Drinking", times=min(times, 6), limit=limit)
    if plan is None and (agent.inv("drink") <= 4 or not agent.memory.known("water")):
        return agent.explore("water", "Thirsty and no water known: exploring for water.")
    return plan


def eat_ripe(agent: Agent, limit: int) -> Plan | None:
    """Walk to a plant that should be ripe by now and eat it."""
    m = agent.memory
    ripe = m.ripe_plants()
    if not ripe:
        return None
    result = interact(m, agent.paths, ripe, times=1, max_actions=agent.max_actions, limit=limit)
    if result is None:
        return None
    actions, target, _cost = result
    if m.distance(target) == 1 and 0 < len(actions) <= 2 and actions[-1] == "do":
        m.plants[target].grown = 0  # eaten now (it starts growing again)
    agent.track("eat plant", target)
    return actions, f"Eating my ripe plant {where(m.pos, target)}."


def eat(agent: Agent, limit: int) -> Plan | None:
    m = agent.memory
    plan = eat_ripe(agent, limit)
    if plan:
        return plan
    plan = agent.go_interact("cow", "Hunting a cow for food", times=agent.blows(3), limit=limit)
    if plan:
        return plan
    remembered = sorted((m.distance(p), p) for p in m.cows if p not in agent.banned)
    paths = agent.paths
    for _, p in remembered:
        if p in paths.cost and paths.cost[p] <= limit:
            agent.track("cow-memory", p)
            actions = route_actions(m, paths.route(p), agent.max_actions)
            if actions:
                return actions, f"Hungry: going back to where I saw a cow ({where(m.pos, p)})."
    if agent.inv("food") <= 4:
        return agent.explore("cow", "Hungry and no cow in sight: exploring grassland.")
    return None


def needs(agent: Agent) -> Plan | None:
    """Drink and eat before running low, and take water or a cow that is right here."""
    if agent.inv("drink") <= 5:
        plan = drink(agent, limit=80)
        if plan:
            return plan
    if agent.inv("food") <= 6:
        plan = eat(agent, limit=80)
        if plan:
            return plan
    # opportunistic: a cow or water right here is worth a few steps even when not hungry
    if agent.inv("food") <= 7:
        plan = agent.go_interact("cow", "A cow close by: eating", times=agent.blows(3), limit=6)
        if plan:
            return plan
    if agent.inv("drink") <= 7:
        plan = agent.go_interact(
            "water", "Water close by: drinking", times=9 - agent.inv("drink"), limit=4
        )
        if plan:
            return plan
    return None


# -- materials ---------------------------------------------------------------------------------


def collect(agent: Agent, name: str, why: str, limit: int = 400) -> Plan | None:
    """Mine or chop the nearest ``name``; explore for one when none is known."""
    plan = agent.go_interact(name, why, limit=limit)
    if plan:
        return plan
    return agent.explore(name, f"{why}: none known, exploring")


def gather_sapling(agent: Agent) -> Plan | None:
    m = agent.memory

    def facing_grass(pos: Pos, facing: Pos) -> bool:
        f = (pos[0] + facing[0], pos[1] + facing[1])
        return m.tiles.get(f) == "grass" and f not in m.creatures

    moves = face_plan(m, facing_grass, 3)
    if moves is None:
        return agent.explore("cow", "Looking for grass to gather a sapling")
    return [*moves, "do", "do", "do", "do"], "Searching the grass for a sapling."


def wood_needed(agent: Agent) -> int:
    need = 0
    for tool in TOOL_ORDER:
        if not agent.inv(tool):
            need += MAKE[tool][0].get("wood", 0)
    if not near_station(agent, ("table",), 30):
        need += 2
    return min(need + 1, 9)


# -- stations and crafting ---------------------------------------------------------------------


def near_station(agent: Agent, names: tuple[str, ...], limit: int) -> Pos | None:
    """The cheapest reachable tile with all ``names`` within one tile."""
    m = agent.memory
    paths = agent.paths
    if stations_near(m, m.pos, names):
        return m.pos
    tables = agent.targets(names[0])
    best: tuple[int, Pos] | None = None
    for t in tables:
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                w = (t[0] + dx, t[1] + dy)
                if w not in paths.cost or m.tiles.get(w) not in WALKABLE:
                    continue
                c = paths.cost[w]
                if c <= limit and (best is None or (c, w) < best) and stations_near(m, w, names):
                    best = (c, w)
    return best[1] if best else None


def craft(agent: Agent, tool: str) -> Plan | None:
    """Make ``tool`` if we have the materials: at a station in reach, or a fresh one."""
    uses, stations = MAKE[tool]
    if agent.inv(tool) or not has_items(agent.memory.inventory, uses):
        return None
    m = agent.memory
    spot = near_station(agent, stations, 25)
    if spot == m.pos:
        item, near = tool.replace("_", " "), " and ".join(stations)
        return [f"make_{tool}"], f"Crafting a {item} at the {near}."
    if spot is not None:
        actions = route_actions(m, agent.paths.route(spot), agent.max_actions)
        item = tool.replace("_", " ")
        near = " and ".join(stations)
        return actions, f"Going to the {near} {where(m.pos, spot)} to make a {item}."

    if not near_station(agent, ("table",), 25):
        if agent.inv("wood") >= 2 + uses.get("wood", 0):
            return agent.place("table", "Placing a table to craft at")
        return None
    if "furnace" in stations and agent.inv("stone") >= 4:
        return place_furnace(agent)
    return None


def place_furnace(agent: Agent) -> Plan | None:
    m = agent.memory
    spot = near_station(agent, ("table",), 25)
    if spot is None:
        return None
    if spot != m.pos and not stations_near(m, m.pos, ("table",)):
        return route_actions(m, agent.paths.route(spot), agent.max_actions), (
            f"Going next to the table {where(m.pos, spot)} to place a furnace."
        )
    return agent.place(
        "furnace",
        "Placing a furnace next to the table",
        stand_ok=lambda p: stations_near(m, p, ("table",)),
    )


def craft_table_for(agent: Agent, what: str) -> Plan | None:
    if near_station(agent, ("table",), 25):
        return None
    if agent.inv("wood") >= 2:
        return agent.place("table", f"Placing a table to put a {what} by")
    return collect(agent, "tree", f"Collecting wood for a table to put a {what} by")
