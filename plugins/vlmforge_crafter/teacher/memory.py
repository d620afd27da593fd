"""The agent's memory: a map of every tile it has seen, built only from its own views."""

from __future__ import annotations

from dataclasses import dataclass, field

from vlmforge_crafter.ground_truth import PlayerView, Pos
from vlmforge_crafter.teacher.rules import (
    MINE_LEAVES,
    OBJECTS,
    PLANT_RIPE_AFTER,
    UPDATE_RADIUS,
    WALKABLE,
)

__all__ = ["VOID", "PlantInfo", "Pos", "WorldMemory"]

#: Marks a cell outside the world (the view shows "unknown" there).
VOID = "void"


@dataclass
class PlantInfo:
    """A sapling the agent planted: where, and how long it has grown while the agent was near."""

    pos: Pos
    grown: int = 0
    protected: bool = False


@dataclass
class WorldMemory:
    """Tiles seen so far, the creatures in view, and the agent's own state."""

    tiles: dict[Pos, str] = field(default_factory=dict)
    creatures: dict[Pos, str] = field(default_factory=dict)  # in the current view only
    cows: dict[Pos, int] = field(default_factory=dict)  # last seen cow positions -> step
    pos: Pos = (0, 0)
    facing: Pos = (0, 1)
    step: int = 0
    inventory: dict[str, int] = field(default_factory=dict)
    achievements: set[str] = field(default_factory=set)
    sleeping: bool = False
    daylight: float = 1.0
    view_half: tuple[int, int] = (4, 3)
    plants: dict[Pos, PlantInfo] = field(default_factory=dict)
    seen_at: dict[Pos, int] = field(default_factory=dict)  # when each tile was last in view

    def update(self, view: PlayerView) -> None:
        """Fold one observation's player-visible fields into memory."""
        previous_step = self.step
        if view.step is not None:
            self.step = view.step
        self.pos = view.position
        self.facing = view.facing
        self.inventory = dict(view.inventory)
        self.achievements = set(view.achievements)
        self.sleeping = view.sleeping
        self.daylight = view.daylight
        rows, cols = view.rows, view.cols
        hx, hy = cols // 2, rows // 2
        self.view_half = (hx, hy)
        x0, y0 = self.pos[0] - hx, self.pos[1] - hy
        self.creatures = {}
        seen_plants: set[Pos] = set()
        for r, row in enumerate(view.view):
            for c, cell in enumerate(row):
                p = (x0 + c, y0 + r)
                self.seen_at[p] = self.step
                if cell == "unknown":
                    self.tiles[p] = VOID
                elif cell in OBJECTS:
                    if cell != "player":
                        self.creatures[p] = cell
                    if cell == "plant":
                        seen_plants.add(p)
                    if cell == "player" and self.tiles.get(p) not in WALKABLE:
                        # we stand here, so it is walkable: a tree chopped or rock mined on
                        # the way leaves grass or path
                        self.tiles[p] = MINE_LEAVES.get(self.tiles.get(p, ""), "grass")
                    elif p not in self.tiles or self.tiles[p] in (VOID,):
                        self.tiles[p] = "path" if cell in ("skeleton", "arrow") else "grass"
                    elif cell in ("cow", "zombie", "plant") and self.tiles[p] not in (
                        "grass",
                        "sand",
                        "path",
                    ):
                        self.tiles[p] = "grass"
                else:
                    self.tiles[p] = cell
        self._update_cows(x0, y0, cols, rows)
        self._update_plants(seen_plants, max(0, self.step - previous_step), x0, y0, cols, rows)

    def _update_cows(self, x0: int, y0: int, cols: int, rows: int) -> None:
        for p in list(self.cows):
            if (x0 <= p[0] < x0 + cols and y0 <= p[1] < y0 + rows) or self.step - self.cows[
                p
            ] > 400:
                del self.cows[p]
        for p, kind in self.creatures.items():
            if kind == "cow":
                self.cows[p] = self.step

    def _update_plants(
        self, seen: set[Pos], elapsed: int, x0: int, y0: int, cols: int, rows: int
    ) -> None:
        for p in seen:
            if p not in self.plants:
                self.plants[p] = PlantInfo(pos=p)
        for p, info in list(self.plants.items()):
            in_view = x0 <= p[0] < x0 + cols and y0 <= p[1] < y0 + rows
            if in_view and p not in seen:
                del self.plants[p]  # eaten or trampled
                continue
            if self.distance(p) < UPDATE_RADIUS:
                info.grown += elapsed

    # -- queries --------------------------------------------------------------------------------
    def tile(self, p: Pos) -> str | None:
        return self.tiles.get(p)

    def distance(self, p: Pos) -> int:
        return abs(p[0] - self.pos[0]) + abs(p[1] - self.pos[1])

    def free(self, p: Pos) -> bool:
        """Walkable for the player right now (known walkable tile, no creature on it)."""
        return self.tiles.get(p) in ("grass", "sand", "path") and p not in self.creatures

    def known(self, name: str) -> list[Pos]:
        return [p for p, t in self.tiles.items() if t == name]

    def ripe_plants(self) -> list[Pos]:
        return [p for p, info in self.plants.items() if info.grown > PLANT_RIPE_AFTER + 20]

    def record_plant(self, p: Pos) -> None:
        self.plants[p] = PlantInfo(pos=p)

    @property
    def night(self) -> bool:
        return self.daylight < 0.45
