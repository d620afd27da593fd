"""Path finding on the remembered map: Dijkstra over tiles, mining through rock when equipped."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vlmforge_crafter.teacher.memory import VOID, Pos, WorldMemory
from vlmforge_crafter.teacher.rules import MINE_REQUIRES, MOVE_FOR, WALKABLE, can_mine

STEPS: tuple[Pos, ...] = ((0, -1), (0, 1), (-1, 0), (1, 0))
UNKNOWN_COST = 3


@dataclass
class Paths:
    """Shortest paths from the agent's position (one Dijkstra per decision)."""

    origin: Pos
    cost: dict[Pos, int]
    parent: dict[Pos, Pos]

    def reachable(self, p: Pos) -> bool:
        return p in self.cost

    def route(self, goal: Pos) -> list[Pos]:
        """Tiles from the first step to ``goal`` (empty when already there)."""
        out: list[Pos] = []
        p = goal
        while p != self.origin:
            out.append(p)
            p = self.parent[p]
        out.reverse()
        return out

    def best(self, goals: Iterable[Pos]) -> Pos | None:
        """The cheapest reachable goal (ties broken by position, for determinism)."""
        found = [(self.cost[g], g) for g in goals if g in self.cost]
        return min(found)[1] if found else None


def step_cost(memory: WorldMemory, p: Pos, explore: bool, avoid: set[Pos]) -> int | None:
    """Cost to enter ``p`` (None: never): 1 to walk, 2-3 to mine through, 3 for unknown tiles."""
    tile = memory.tiles.get(p)
    if p in avoid:
        return None
    if tile is None:
        return UNKNOWN_COST if explore else None
    if tile == VOID or tile == "lava":
        return None
    if p in memory.creatures:
        kind = memory.creatures[p]
        return 6 if kind in ("cow", "arrow") else None
    if tile in WALKABLE:
        return 1
    if tile in MINE_REQUIRES and can_mine(tile, memory.inventory):
        return 2 if tile != "tree" else 3
    return None


def dijkstra(
    memory: WorldMemory,
    *,
    explore: bool = False,
    max_cost: int = 400,
    avoid: set[Pos] | None = None,
) -> Paths:
    """Shortest paths from the agent to every tile it could reach."""
    start = memory.pos
    avoid = avoid or set()
    cost: dict[Pos, int] = {start: 0}
    parent: dict[Pos, Pos] = {}
    heap: list[tuple[int, Pos]] = [(0, start)]
    while heap:
        c, p = heapq.heappop(heap)
        if c > cost.get(p, 1 << 30) or c > max_cost:
            continue
        if p != start and memory.tiles.get(p) is None:
            continue  # do not plan through unknown tiles beyond the first one
        for dx, dy in STEPS:
            q = (p[0] + dx, p[1] + dy)
            sc = step_cost(memory, q, explore, avoid)
            if sc is None:
                continue
            nc = c + sc
            if nc < cost.get(q, 1 << 30):
                cost[q] = nc
                parent[q] = p
                heapq.heappush(heap, (nc, q))
    return Paths(start, cost, parent)


def route_actions(memory: WorldMemory, route: list[Pos], limit: int) -> list[str]:
    """Primitive actions that walk ``route``, mining what is in the way; stops at unknown tiles."""
    actions: list[str] = []
    p = memory.pos
    for q in route:
        d = (q[0] - p[0], q[1] - p[1])
        move = MOVE_FOR[d]
        tile = memory.tiles.get(q)
        if tile is None or q in memory.creatures:
            break
        if actions and (near_lava(memory, p) or near_lava(memory, q)):
            break  # near lava, re-plan after every move in case one is blocked
        if tile in WALKABLE:
            actions.append(move)
        elif tile in MINE_REQUIRES:
            actions += [move, "do", move]
        else:
            break
        p = q
        if len(actions) >= limit:
            break
    return actions[:limit]


def adjacent(p: Pos) -> list[Pos]:
    return [(p[0] + dx, p[1] + dy) for dx, dy in STEPS]


def direction(a: Pos, b: Pos) -> Pos:
    return (b[0] - a[0], b[1] - a[1])


def near_lava(memory: WorldMemory, p: Pos, radius: int = 2) -> bool:
    """True if lava is within ``radius`` (Manhattan) of ``p``."""
    for dx in range(-radius, radius + 1):
        rest = radius - abs(dx)
        for dy in range(-rest, rest + 1):
            if memory.tiles.get((p[0] + dx, p[1] + dy)) == "lava":
                return True
    return False


State = tuple[Pos, Pos]  # (position, facing)


def face_plan(
    memory: WorldMemory, goal: Callable[[Pos, Pos], bool], max_depth: int = 4
) -> list[str] | None:
    """Fewest moves (each a step, or a turn when blocked) to a (position, facing) meeting ``goal``.

    Works on the remembered map as it is now (creatures stay put); None if no plan within
    ``max_depth`` moves.
    """
    start: State = (memory.pos, memory.facing)
    if goal(*start):
        return []
    frontier: list[tuple[State, list[str]]] = [(start, [])]
    seen = {start}
    for _ in range(max_depth):
        nxt: list[tuple[State, list[str]]] = []
        for (pos, _facing), moves in frontier:
            for d in STEPS:
                q = (pos[0] + d[0], pos[1] + d[1])
                if memory.tiles.get(q) == "lava":
                    continue  # never risk a step that could end in lava
                state = (q, d) if memory.free(q) else (pos, d)
                if state in seen:
                    continue
                seen.add(state)
                plan = [*moves, MOVE_FOR[d]]
                if goal(*state):
                    return plan
                nxt.append((state, plan))
        frontier = nxt
    return None
