"""The teacher's declared state, and the small queries and moves every goal uses.

One :class:`Agent` lives for one episode. The planner refreshes its per-decision fields
(``paths``, ``banned``, ``atomic``) before asking the goals; goals read it and may update the
fields documented as theirs (``shelter`` by the sleep goal, ``atomic`` when a plan must not be
cut short).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from vlmforge_crafter.teacher.explore import Explorer
from vlmforge_crafter.teacher.memory import Pos, WorldMemory
from vlmforge_crafter.teacher.navigation import Paths
from vlmforge_crafter.teacher.rationale import Plan, where
from vlmforge_crafter.teacher.skills import Shelter, face_placeable, interact

#: What the stuck check compares between decisions: position, facing, sorted inventory.
PlayerState = tuple[Pos, Pos, tuple[tuple[str, int], ...]]
#: Creatures (and plants) are looked up in the current view, materials in the remembered map.
_IN_VIEW = ("cow", "zombie", "skeleton", "plant")
#: Decisions in a row spent on one target before it is left alone for a while.
FOCUS_LIMIT = 40
BAN_STEPS = 400


@dataclass
class Agent:
    """Everything the teacher knows and keeps between decisions (one episode)."""

    rng: random.Random
    max_actions: int
    memory: WorldMemory = field(default_factory=WorldMemory)
    explorer: Explorer = field(init=False)
    #: The pocket the sleep goal is building or sleeping in.
    shelter: Shelter | None = None
    #: Shortest paths from the player, recomputed at every decision.
    paths: Paths = field(default_factory=lambda: Paths((0, 0), {}, {}))
    #: Targets left alone until the given step.
    banned: dict[Pos, int] = field(default_factory=dict)
    focus: tuple[str, Pos] | None = None
    focus_count: int = 0
    #: (position, facing, inventory) at the last decision, and decisions in a row it was the same.
    last_state: PlayerState | None = None
    still: int = 0
    #: The current plan must run whole (set by a goal; the planner does not shorten it).
    atomic: bool = False

    def __post_init__(self) -> None:
        self.explorer = Explorer(self.rng)

    # -- queries ----------------------------------------------------------------------------
    def inv(self, name: str) -> int:
        return self.memory.inventory.get(name, 0)

    def done(self, achievement: str) -> bool:
        return achievement in self.memory.achievements

    def targets(self, name: str) -> list[Pos]:
        """Known positions of ``name`` (creatures: in view now), minus the banned ones."""
        m = self.memory
        if name in _IN_VIEW:
            found = [p for p, k in m.creatures.items() if k == name]
        else:
            found = m.known(name)
        return [p for p in found if p not in self.banned]

    def damage(self) -> int:
        """Damage of one blow with the best sword in the inventory."""
        if self.inv("iron_sword"):
            return 5
        if self.inv("stone_sword"):
            return 3
        return 2 if self.inv("wood_sword") else 1

    def blows(self, health: int) -> int:
        return max(1, -(-health // self.damage()))

    # -- moves ------------------------------------------------------------------------------
    def go_interact(
        self, name: str, what: str, *, times: int = 1, limit: int = 400, final: str = "do"
    ) -> Plan | None:
        """Walk to the nearest ``name``, face it and apply ``final`` ``times`` times."""
        m = self.memory
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
        self.track(what, target)
        return actions, f"{what}: {name} {where(m.pos, target)}."

    def track(self, what: str, target: Pos) -> None:
        """Give up on a target that many decisions in a row have not reached."""
        if self.focus == (what, target):
            self.focus_count += 1
            if self.focus_count > FOCUS_LIMIT:
                self.banned[target] = self.memory.step + BAN_STEPS
                self.focus, self.focus_count = None, 0
        else:
            self.focus, self.focus_count = (what, target), 0

    def explore(self, purpose: str, why: str) -> Plan | None:
        actions = self.explorer.actions(self.memory, purpose, self.max_actions)
        return (actions, why) if actions else None

    def place(
        self,
        item: str,
        why: str,
        *,
        stand_ok: Callable[[Pos], bool] | None = None,
        tile_ok: Callable[[Pos], bool] | None = None,
    ) -> Plan | None:
        """Face a suitable tile and ``place_<item>`` there."""
        moves = face_placeable(self.memory, item, stand_ok=stand_ok, tile_ok=tile_ok)
        if moves is None:
            return None
        return [*moves, f"place_{item}"], f"{why}."
