"""Ground truth and text observations built straight from Crafter's game state.

Everything here reads ``env._player`` and ``env._world`` (numpy slices of the material and
object maps), never the rendered frame, and runs once per decision on the rollout hot path, so
it avoids per-tile numpy calls: one slice per map, one ``tolist()``, and small Python loops over
the 63 visible cells.

Coordinates: x grows to the right, y grows downwards (``move_up`` is ``(0, -1)``). Distances are
Manhattan distances ``|dx| + |dy|`` (the number of moves to reach the tile; Crafter's own
``Object.distance`` uses the same metric).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from crafter import constants, objects

from vlmforge_crafter.config import CrafterConfig
from vlmforge_crafter.ground_truth import Creature, GroundTruth, Nearest
from vlmforge_crafter.wording import describe_offset

#: Crafter's semantic ids: 0 unknown/none, materials 1-12, then the object kinds 13-18.
MATERIALS: tuple[str, ...] = tuple(constants.materials)
OBJECT_KINDS: tuple[str, ...] = ("player", "cow", "zombie", "skeleton", "arrow", "plant")
SEMANTIC_NAMES: tuple[str, ...] = ("unknown", *MATERIALS, *OBJECT_KINDS)
SEMANTIC_ID: dict[str, int] = {name: i for i, name in enumerate(SEMANTIC_NAMES)}
_KIND_OF_TYPE: dict[type, str] = {
    objects.Player: "player",
    objects.Cow: "cow",
    objects.Zombie: "zombie",
    objects.Skeleton: "skeleton",
    objects.Arrow: "arrow",
    objects.Plant: "plant",
}
VITALS: tuple[str, ...] = ("health", "food", "drink", "energy")
_FACING_NAMES = {(0, -1): "up", (0, 1): "down", (-1, 0): "left", (1, 0): "right"}
_NAME_WIDTH = max(len(n) for n in SEMANTIC_NAMES) + 1
_PADDED: tuple[str, ...] = tuple(name.ljust(_NAME_WIDTH) for name in SEMANTIC_NAMES)


def kind_of(obj: Any) -> str:
    """The lower-case kind of a Crafter object ("cow", "zombie", ...)."""
    kind = _KIND_OF_TYPE.get(type(obj))
    return kind if kind is not None else type(obj).__name__.lower()


class Observer:
    """Builds ground truth and text for one episode's configuration (view size, caps)."""

    def __init__(self, config: CrafterConfig):
        self.config = config
        self.cols, self.rows = config.local_view
        self.ox, self.oy = self.cols // 2, self.rows // 2
        self.area = tuple(int(a) for a in config.area)
        self.cap = min(config.max_steps, config.length)
        # cells in the order "nearest first" (Manhattan, then top-to-bottom, left-to-right)
        cells = [
            (abs(c - self.ox) + abs(r - self.oy), r, c)
            for r in range(self.rows)
            for c in range(self.cols)
            if (r, c) != (self.oy, self.ox)
        ]
        self._near_order = [(r, c, d) for d, r, c in sorted(cells)]

    # -- ground truth ------------------------------------------------------------------------
    def ground_truth(self, env: Any, achievements: Sequence[str], step: int) -> GroundTruth:
        """The machine-readable state (:class:`GroundTruth`, docs/crafter.md); not in prompts."""
        world, player = env._world, env._player
        x, y = int(player.pos[0]), int(player.pos[1])
        sem, found = self._semantic(world, x, y)
        creatures: list[Creature] = []
        for r, c, kind in found:
            if kind == "player" and r == self.oy and c == self.ox:
                continue
            dx, dy = c - self.ox, r - self.oy
            creatures.append({"kind": kind, "offset": [dx, dy], "distance": abs(dx) + abs(dy)})
        creatures.sort(key=lambda o: (o["distance"], o["offset"][1], o["offset"][0]))
        nearest: dict[str, Nearest] = {}
        for r, c, d in self._near_order:
            name = SEMANTIC_NAMES[sem[r][c]]
            if name not in nearest and name != "unknown":
                nearest[name] = {"offset": [c - self.ox, r - self.oy], "distance": d}
        view = [[SEMANTIC_NAMES[i] for i in row] for row in sem]
        fx, fy = int(player.facing[0]), int(player.facing[1])
        material, obj = world[(x + fx, y + fy)]
        facing_tile = kind_of(obj) if obj is not None else (material or "unknown")
        return {
            "step": step,
            "max_steps": self.config.max_steps,
            "position": [x, y],
            "facing": [fx, fy],
            "facing_tile": facing_tile,
            "inventory": {k: int(v) for k, v in player.inventory.items()},
            "achievements": list(achievements),
            "sleeping": bool(player.sleeping),
            "daylight": float(world.daylight),
            "view": view,
            "creatures": creatures,
            "nearest": nearest,
            "semantic_view": sem,
        }

    def _semantic(
        self, world: Any, x: int, y: int
    ) -> tuple[list[list[int]], list[tuple[int, int, str]]]:
        """rows x cols semantic ids around (x, y), and the objects in view as (row, col, kind)."""
        x0, y0 = x - self.ox, y - self.oy
        w, h = self.area
        xa, ya = max(x0, 0), max(y0, 0)
        xb, yb = min(x0 + self.cols, w), min(y0 + self.rows, h)
        mat_map, obj_map = world._mat_map, world._obj_map
        if xa == x0 and ya == y0 and xb == x0 + self.cols and yb == y0 + self.rows:
            mat = mat_map[xa:xb, ya:yb].T
            obj = obj_map[xa:xb, ya:yb].T
        else:  # at the world's edge: out-of-world cells are 0 ("unknown")
            mat = np.zeros((self.rows, self.cols), np.uint8)
            obj = np.zeros((self.rows, self.cols), np.uint32)
            if xa < xb and ya < yb:
                mat[ya - y0 : yb - y0, xa - x0 : xb - x0] = mat_map[xa:xb, ya:yb].T
                obj[ya - y0 : yb - y0, xa - x0 : xb - x0] = obj_map[xa:xb, ya:yb].T
        sem = mat.tolist()
        found = []
        if obj.any():
            rows, cols = np.nonzero(obj)
            all_objects = world._objects
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                kind = kind_of(all_objects[obj[r, c]])
                sem[r][c] = SEMANTIC_ID.get(kind, 0)
                found.append((r, c, kind))
        return sem, found

    # -- text --------------------------------------------------------------------------------
    def text(self, gt: GroundTruth) -> str:
        """The text observation shown to the policy, built from :meth:`ground_truth`."""
        inv = gt["inventory"]
        x, y = gt["position"]
        fx, fy = gt["facing"]
        items = [f"{k} {v}" for k, v in inv.items() if v and k not in VITALS]
        achieved = gt["achievements"]
        daylight = gt["daylight"]
        phase = "day" if daylight >= 0.5 else ("dusk/dawn" if daylight >= 0.25 else "night")
        lines = [
            f"Step {gt['step']}/{self.cap}.",
            "Health {}/9, food {}/9, drink {}/9, energy {}/9.".format(*(inv[k] for k in VITALS)),
            f"Position x={x}, y={y}. Facing {_FACING_NAMES.get((fx, fy), f'({fx}, {fy})')}, "
            f"toward {gt['facing_tile']}.",
            "Inventory: " + (", ".join(items) if items else "nothing") + ".",
            f"Achievements ({len(achieved)}/22): "
            + (", ".join(achieved) if achieved else "none yet")
            + ".",
            f"Time: {phase} (daylight {daylight:.2f}). "
            + ("You are asleep." if gt["sleeping"] else "You are awake."),
            f"Map ({self.cols} wide x {self.rows} high, up is north; you are the 'player' "
            f"at row {self.oy + 1}, column {self.ox + 1}):",
        ]
        padded = _PADDED
        lines.extend("".join([padded[i] for i in row]).rstrip() for row in gt["semantic_view"])
        creatures = gt["creatures"]
        lines.append(
            "Creatures in view: "
            + (
                "; ".join(
                    f"{o['kind']} {describe_offset(*o['offset'])} (distance {o['distance']})"
                    for o in creatures
                )
                if creatures
                else "none"
            )
            + "."
        )
        near = [
            f"{name} {describe_offset(*v['offset'])}"
            for name, v in gt["nearest"].items()
            if name in MATERIALS and name != "grass"
        ]
        lines.append("Nearest: " + ("; ".join(near) if near else "only grass") + ".")
        return "\n".join(lines)
