"""Skills: turn an intent (reach this tile, face that one, build a shelter) into primitive actions.

Each skill returns a list of primitive actions (possibly a prefix of a longer plan: the agent
re-plans at every decision) or ``None`` when it cannot apply right now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vlmforge_crafter.teacher.memory import VOID, Pos, WorldMemory
from vlmforge_crafter.teacher.navigation import (
    STEPS,
    Paths,
    adjacent,
    dijkstra,
    direction,
    face_plan,
    route_actions,
)
from vlmforge_crafter.teacher.rules import (
    CREATURE_WALKABLE,
    MINE_REQUIRES,
    MOVE_FOR,
    PLACE,
    WALKABLE,
    can_mine,
)


def standable(memory: WorldMemory, p: Pos) -> bool:
    """The agent can end up standing on ``p`` (walkable now, or minable into a path)."""
    tile = memory.tiles.get(p)
    if tile is None or p in memory.creatures:
        return False
    return tile in WALKABLE or (tile in MINE_REQUIRES and can_mine(tile, memory.inventory))


def approach(
    memory: WorldMemory, paths: Paths, targets: Iterable[Pos], limit: int
) -> tuple[Pos, Pos, int] | None:
    """The cheapest (target, stand tile, cost) with the stand tile next to the target."""
    best: tuple[int, Pos, Pos] | None = None
    for t in targets:
        if t == memory.pos:
            continue
        for n in adjacent(t):
            if n != memory.pos and (n not in paths.cost or not standable(memory, n)):
                continue
            c = paths.cost.get(n, 0) if n != memory.pos else 0
            if best is None or (c, n, t) < best:
                best = (c, n, t)
    if best is None or best[0] > limit:
        return None
    return best[2], best[1], best[0]


def interact(
    memory: WorldMemory,
    paths: Paths,
    targets: Iterable[Pos],
    *,
    times: int,
    max_actions: int,
    limit: int = 400,
    final: str = "do",
) -> tuple[list[str], Pos, int] | None:
    """Walk next to the nearest target, face it and apply ``final`` ``times`` times.

    Targets must be tiles the agent cannot walk onto (trees, water, rock, creatures, tables):
    moving toward them turns the agent to face them. Returns (actions, target, cost), or None
    when no target is in reach; the actions are empty when the route is blocked at its first
    tile (a plan without actions counts as not applying).
    """
    found = approach(memory, paths, targets, limit)
    if found is None:
        return None
    target, stand, cost = found
    if stand != memory.pos:
        route = paths.route(stand)
        actions = route_actions(memory, route, max_actions)
        if not _reaches(memory, route, actions):
            return actions, target, cost  # not there yet: the walk so far
    else:
        actions = []
    d = direction(stand, target)
    if memory.facing != d or stand != memory.pos:
        actions.append(MOVE_FOR[d])
    actions += [final] * times
    return actions[:max_actions], target, cost


def _reaches(memory: WorldMemory, route: list[Pos], actions: list[str]) -> bool:
    """True if ``actions`` walk the whole route."""
    moves = 0
    for a in actions:
        if a.startswith("move_"):
            moves += 1
    needed = sum(
        1 if memory.tiles.get(q) in WALKABLE else 2 for q in route
    )  # a mined tile takes two moves (turn, then step)
    return moves >= needed


def face_placeable(
    memory: WorldMemory,
    item: str,
    *,
    stand_ok: Callable[[Pos], bool] | None = None,
    tile_ok: Callable[[Pos], bool] | None = None,
    max_depth: int = 4,
) -> list[str] | None:
    """Moves after which ``place_<item>`` would succeed (facing a suitable free tile)."""
    where = PLACE[item][1]

    def goal(pos: Pos, facing: Pos) -> bool:
        f = (pos[0] + facing[0], pos[1] + facing[1])
        if memory.tiles.get(f) not in where or f in memory.creatures:
            return False
        if tile_ok is not None and not tile_ok(f):
            return False
        return stand_ok is None or stand_ok(pos)

    return face_plan(memory, goal, max_depth)


def stations_near(memory: WorldMemory, p: Pos, names: Iterable[str]) -> bool:
    """All of ``names`` lie in the 3x3 square around ``p`` (where crafting looks)."""
    around = {memory.tiles.get((p[0] + dx, p[1] + dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    return all(n in around for n in names)


def solid(memory: WorldMemory, p: Pos) -> bool:
    """No creature can walk onto ``p``: a shelter wall (water counts, lava never does)."""
    tile = memory.tiles.get(p)
    if tile is None or p in memory.creatures:
        return False
    return tile == VOID or tile not in CREATURE_WALKABLE | {"lava"}


def enclosed(memory: WorldMemory, p: Pos, max_size: int = 3) -> bool:
    """The walkable region around ``p`` is a small sealed pocket (safe to sleep in)."""
    region = {p}
    stack = [p]
    while stack:
        q = stack.pop()
        for n in adjacent(q):
            if n in region:
                continue
            tile = memory.tiles.get(n)
            if n in memory.creatures and memory.creatures[n] not in ("plant",):
                return False
            if tile is None or tile == "lava":
                return False
            if tile in CREATURE_WALKABLE:
                region.add(n)
                stack.append(n)
                if len(region) > max_size:
                    return False
    return True


@dataclass(frozen=True)
class Shelter:
    """A two-tile pocket: enter at ``entrance``, step through ``inner`` to ``back``, return to
    ``inner`` facing the entrance and wall it up with a stone."""

    entrance: Pos
    inner: Pos
    back: Pos

    @property
    def inward(self) -> Pos:
        return direction(self.entrance, self.inner)


def buildable(memory: WorldMemory, p: Pos) -> bool:
    """A stone could be placed on ``p`` to make it a wall (lava is never touched)."""
    tile = memory.tiles.get(p)
    return tile in ("grass", "sand", "path", "water") and p not in memory.creatures


def shelter_walls(s: Shelter) -> list[Pos]:
    """The five tiles around the pocket (other than the entrance) that must be walls."""
    d = s.inward
    perp = ((d[1], d[0]), (-d[1], -d[0]))
    walls = [(c[0] + p[0], c[1] + p[1]) for c in (s.inner, s.back) for p in perp]
    walls.append((s.back[0] + d[0], s.back[1] + d[1]))
    return walls


def shelter_cost(memory: WorldMemory, s: Shelter, stones: int) -> int | None:
    """Extra cost of making ``s`` a sealed pocket (walls to build, rock to dig), or None."""
    for cell in (s.inner, s.back):
        if not (memory.free(cell) or cell == memory.pos or standable(memory, cell)):
            return None
        if memory.tiles.get(cell) == "tree":
            return None
    to_build = 0
    for w in shelter_walls(s):
        if solid(memory, w):
            continue
        if not buildable(memory, w):
            return None
        to_build += 1
    gain = sum(memory.tiles.get(c) == "stone" for c in (s.inner, s.back))
    if stones < to_build or stones + gain < to_build + 1:
        return None  # walls are built from stones in hand; the seal may come from digging
    d = s.inward
    outside = (s.entrance[0] - d[0], s.entrance[1] - d[1])
    if memory.tiles.get(outside) == "lava":
        return None
    entrance_tile = memory.tiles.get(s.entrance)
    if not (entrance_tile in PLACE["stone"][1] or entrance_tile in MINE_REQUIRES):
        return None
    dig = sum(2 for c in (s.inner, s.back) if memory.tiles.get(c) not in WALKABLE)
    return dig + 10 * to_build  # building in the open is slow and exposed: prefer rock


def shelter_ok(memory: WorldMemory, s: Shelter, stones: int) -> bool:
    """The pocket can still be sealed with the stones we have."""
    return shelter_cost(memory, s, stones) is not None


def find_shelter(
    memory: WorldMemory, paths: Paths, limit: int, homes: list[Pos] | None = None
) -> tuple[Shelter, int] | None:
    """The cheapest reachable two-tile pocket to sleep in (natural, dug or built).

    Pockets within 12 tiles of a ``home`` (the agent's plants) are preferred: plants only grow
    while the agent is near.
    """
    homes = homes or []
    stones = memory.inventory.get("stone", 0)
    best: tuple[int, Pos, Pos, Shelter] | None = None
    for entrance, cost in paths.cost.items():
        if cost > limit or (best is not None and cost >= best[0]):
            continue
        if not (memory.free(entrance) or entrance == memory.pos):
            continue
        for d in STEPS:
            inner = (entrance[0] + d[0], entrance[1] + d[1])
            back = (inner[0] + d[0], inner[1] + d[1])
            s = Shelter(entrance, inner, back)
            extra = shelter_cost(memory, s, stones)
            if extra is None:
                continue
            if homes and min(abs(h[0] - inner[0]) + abs(h[1] - inner[1]) for h in homes) > 12:
                extra += 15
            candidate = (cost + extra, s.entrance, s.inner, s)
            if best is None or candidate[:3] < best[:3]:
                best = candidate
    if best is None or best[0] > limit:
        return None
    return best[3], best[0]


def shelter_actions(memory: WorldMemory, paths: Paths, s: Shelter, max_actions: int) -> list[str]:
    """The next actions toward sleeping sealed inside shelter ``s``."""
    d = s.inward
    back_move, in_move = MOVE_FOR[(-d[0], -d[1])], MOVE_FOR[d]
    pos = memory.pos
    missing = [w for w in shelter_walls(s) if not solid(memory, w)]
    if missing:
        moves = face_placeable(memory, "stone", tile_ok=lambda f: f in missing, max_depth=9)
        if moves is None:
            return []
        return [*moves, "place_stone"][:max_actions]

    def step_into(cell: Pos) -> list[str]:
        return [in_move] if memory.tiles.get(cell) in WALKABLE else [in_move, "do", in_move]

    seal = [back_move, "place_stone"]  # sleep only once the pocket is seen to be sealed
    if pos == s.back:
        actions = seal
    elif pos == s.inner:
        actions = step_into(s.back) + seal
    elif pos == s.entrance:
        actions = step_into(s.inner) + step_into(s.back) + seal
    else:
        # walk around the pocket, never digging through its walls on the way in
        keep = {*shelter_walls(s), s.inner, s.back}
        detour = dijkstra(memory, avoid={w for w in keep if memory.tiles.get(w) not in WALKABLE})
        if s.entrance not in detour.cost:
            return []
        return route_actions(memory, detour.route(s.entrance), max_actions)
    return actions[:max_actions]
