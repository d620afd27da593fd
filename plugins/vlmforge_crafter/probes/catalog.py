"""The probe types: for each, a question, a fixed answer space and the exact answer.

Every answer is computed from the player-visible ground truth of the step
(:class:`~vlmforge_crafter.ground_truth.PlayerView`: the tiles in view, the inventory and vitals
the status bar shows, daylight), i.e. from what the frame shows. Pure Python: no crafter, no
numpy, so stored probes can be checked without the game.

Conventions (docs/probes.md): the player is at the centre of the ``view`` grid; "up" is the top
of the frame; distances are Manhattan distances in tiles (the moves to reach a tile); the
nearest cell of a kind is the first in the order (distance, row, column), the observer's own
order; a direction is one of the 8 compass words by the signs of the offset.

Bump :data:`PROBE_VERSION` whenever a question, an answer space or an answer rule changes:
probe runs record it, and a probe set is the same only for the same version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vlmforge_crafter.ground_truth import PlayerView

PROBE_VERSION = 1

#: What can be in a cell of the view (Crafter's semantic names; ``unknown``: outside the world).
TILE_NAMES: tuple[str, ...] = (
    "water", "grass", "stone", "path", "sand", "tree", "lava", "coal", "iron", "diamond",
    "table", "furnace", "cow", "zombie", "skeleton", "arrow", "plant", "unknown",
)  # fmt: skip
NEAREST_KINDS: tuple[str, ...] = ("tree", "water", "stone", "cow", "zombie", "skeleton")
DIRECTIONS: tuple[str, ...] = (
    "up", "down", "left", "right", "up-left", "up-right", "down-left", "down-right", "none",
)  # fmt: skip
DISTANCES: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8+", "none")
COUNTS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5+")
LEVELS: tuple[str, ...] = tuple(str(i) for i in range(10))  # Crafter caps every count at 9
ITEMS: tuple[str, ...] = (
    "sapling", "wood", "stone", "coal", "iron", "diamond", "wood_pickaxe", "stone_pickaxe",
    "iron_pickaxe", "wood_sword", "stone_sword", "iron_sword",
)  # fmt: skip
VITALS: tuple[str, ...] = ("health", "food", "drink", "energy")
YES_NO: tuple[str, ...] = ("yes", "no")
DAY_NIGHT: tuple[str, ...] = ("day", "night")
#: Crafter draws the night (darkness and noise) below this daylight.
NIGHT_BELOW = 0.5
ZOMBIE_NEAR = 3


@dataclass(frozen=True)
class ProbeType:
    """One kind of question: ``answer(view)`` is always one of ``answers``."""

    id: str
    question: str
    answers: tuple[str, ...]
    answer: Callable[[PlayerView], str]

    @property
    def chance(self) -> float:
        """The accuracy of a uniformly random answer among ``answers``."""
        return 1.0 / len(self.answers)

    def prompt(self) -> str:
        """The question with its answer space, as the model is asked it."""
        return f"{self.question} Answer with one of: {', '.join(self.answers)}."


# -- reading the view ----------------------------------------------------------------------
def centre(view: PlayerView) -> tuple[int, int]:
    """The player's (column, row) in the view grid."""
    return view.cols // 2, view.rows // 2


def cells_by_distance(view: PlayerView) -> list[tuple[int, int, int, str]]:
    """Every cell but the player's as (distance, dx, dy, name), nearest first."""
    ox, oy = centre(view)
    cells = [
        (abs(c - ox) + abs(r - oy), r, c)
        for r in range(view.rows)
        for c in range(view.cols)
        if (r, c) != (oy, ox)
    ]
    return [(d, c - ox, r - oy, view.view[r][c]) for d, r, c in sorted(cells)]


def nearest(view: PlayerView, kind: str) -> tuple[int, int, int] | None:
    """(distance, dx, dy) of the nearest cell showing ``kind``, or None when none is in view."""
    for d, dx, dy, name in cells_by_distance(view):
        if name == kind:
            return d, dx, dy
    return None


def direction(dx: int, dy: int) -> str:
    """The compass word of an offset: (0, -2) -> "up", (3, 1) -> "down-right"."""
    vertical = "up" if dy < 0 else "down" if dy > 0 else ""
    horizontal = "left" if dx < 0 else "right" if dx > 0 else ""
    return "-".join(p for p in (vertical, horizontal) if p) or "none"


def capped(value: int, space: tuple[str, ...]) -> str:
    """``value`` as an answer of ``space``, whose last numeric answer may be "N+"."""
    top = space[-1] if space[-1] != "none" else space[-2]
    if top.endswith("+") and value >= int(top[:-1]):
        return top
    return str(value)


# -- the answers ---------------------------------------------------------------------------
def front_tile(view: PlayerView) -> str:
    ox, oy = centre(view)
    fx, fy = view.facing
    return view.view[oy + fy][ox + fx]


def _nearest_direction(kind: str) -> Callable[[PlayerView], str]:
    def answer(view: PlayerView) -> str:
        found = nearest(view, kind)
        return "none" if found is None else direction(found[1], found[2])

    return answer


def _nearest_distance(kind: str) -> Callable[[PlayerView], str]:
    def answer(view: PlayerView) -> str:
        found = nearest(view, kind)
        return "none" if found is None else capped(found[0], DISTANCES)

    return answer


def zombie_near(view: PlayerView) -> str:
    found = nearest(view, "zombie")
    return "yes" if found is not None and found[0] <= ZOMBIE_NEAR else "no"


def cow_count(view: PlayerView) -> str:
    return capped(sum(row.count("cow") for row in view.view), COUNTS)


def _count(item: str) -> Callable[[PlayerView], str]:
    def answer(view: PlayerView) -> str:
        return str(min(max(view.inventory.get(item, 0), 0), 9))

    return answer


def day_or_night(view: PlayerView) -> str:
    return "night" if view.daylight < NIGHT_BELOW else "day"


def _catalog() -> tuple[ProbeType, ...]:
    out = [
        ProbeType(
            "front",
            "What is on the tile directly in front of the player (the way the player faces)?",
            TILE_NAMES,
            front_tile,
        )
    ]
    for kind in NEAREST_KINDS:
        out.append(
            ProbeType(
                f"nearest_direction/{kind}",
                f"In which direction from the player is the nearest {kind} in view "
                f"(none: no {kind} in view)?",
                DIRECTIONS,
                _nearest_direction(kind),
            )
        )
        out.append(
            ProbeType(
                f"nearest_distance/{kind}",
                f"How many tiles (steps up/down plus steps left/right) from the player is the "
                f"nearest {kind} in view (none: no {kind} in view)?",
                DISTANCES,
                _nearest_distance(kind),
            )
        )
    out.append(
        ProbeType(
            "zombie_within_3",
            f"Is a zombie within {ZOMBIE_NEAR} tiles of the player (steps up/down plus "
            "left/right)?",
            YES_NO,
            zombie_near,
        )
    )
    out.append(ProbeType("cow_count", "How many cows are in view?", COUNTS, cow_count))
    for item in ITEMS:
        out.append(
            ProbeType(
                f"inventory/{item}",
                f"How many {item.replace('_', ' ')} does the inventory bar show?",
                LEVELS,
                _count(item),
            )
        )
    for vital in VITALS:
        out.append(
            ProbeType(
                f"{vital}",
                f"What is the player's {vital} level on the status bar (0-9)?",
                LEVELS,
                _count(vital),
            )
        )
    out.append(ProbeType("daylight", "Is it day or night?", DAY_NIGHT, day_or_night))
    return tuple(out)


#: Every probe type, in a fixed order (the order of a frame's probes).
PROBE_TYPES: tuple[ProbeType, ...] = _catalog()
BY_ID: dict[str, ProbeType] = {t.id: t for t in PROBE_TYPES}
#: Every answer of every type once, in a fixed order: the ``answer`` tool's enum.
ALL_ANSWERS: tuple[str, ...] = tuple(dict.fromkeys(a for t in PROBE_TYPES for a in t.answers))


def probe_type(type_id: str) -> ProbeType:
    """The probe type ``type_id`` (raises KeyError naming the known ones)."""
    try:
        return BY_ID[type_id]
    except KeyError:
        raise KeyError(f"unknown probe type '{type_id}'; known: {', '.join(BY_ID)}") from None
