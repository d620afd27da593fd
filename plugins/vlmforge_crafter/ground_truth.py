"""The typed contract of Crafter's ``Observation.ground_truth`` (schema in docs/crafter.md).

:class:`GroundTruth` is what :meth:`vlmforge_crafter.observe.Observer.ground_truth` builds, key
by key. :class:`PlayerView` is the player-visible part of it (what a player sees on screen),
parsed into typed fields: the only thing the scripted teacher (:mod:`vlmforge_crafter.teacher`)
reads. This module imports neither ``crafter`` nor numpy, so a consumer can be used on stored
ground truth without the game installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

#: A tile position or offset ``(x, y)``: x grows to the right, y downwards.
Pos = tuple[int, int]


class Creature(TypedDict):
    """A creature/object in view (not the player): ``ground_truth["creatures"][i]``."""

    kind: str
    offset: list[int]
    distance: int


class Nearest(TypedDict):
    """The nearest cell of one material or kind in view: ``ground_truth["nearest"][name]``."""

    offset: list[int]
    distance: int


class GroundTruth(TypedDict):
    """Every key of ``Observation.ground_truth`` for the crafter environment."""

    step: int
    max_steps: int
    position: list[int]
    facing: list[int]
    facing_tile: str
    inventory: dict[str, int]
    achievements: list[str]
    sleeping: bool
    daylight: float
    view: list[list[str]]
    creatures: list[Creature]
    nearest: dict[str, Nearest]
    semantic_view: list[list[int]]


#: The ground-truth keys a player can see on screen (``step`` is optional). Nothing else.
VISIBLE_FIELDS: tuple[str, ...] = (
    "step",
    "position",
    "facing",
    "inventory",
    "achievements",
    "sleeping",
    "daylight",
    "view",
)


class MissingFieldsError(ValueError):
    """A ground-truth dict lacks player-visible fields (``fields`` names them)."""

    def __init__(self, fields: list[str]):
        super().__init__(f"ground truth lacks {', '.join(fields)}")
        self.fields = fields


@dataclass(frozen=True)
class PlayerView:
    """What a player sees: the tiles in view, inventory and vitals, position/facing, time."""

    #: Primitive steps so far; None when the observation does not say.
    step: int | None
    position: Pos
    facing: Pos
    #: All items incl. the vitals ``health``, ``food``, ``drink``, ``energy``.
    inventory: dict[str, int]
    achievements: tuple[str, ...]
    sleeping: bool
    daylight: float
    #: ``view[row][col]``; the player is at the centre (see :class:`GroundTruth`).
    view: tuple[tuple[str, ...], ...]

    @property
    def rows(self) -> int:
        return len(self.view)

    @property
    def cols(self) -> int:
        return len(self.view[0])


def visible(ground_truth: Mapping[str, Any]) -> dict[str, Any]:
    """The player-visible keys of a ground-truth dict (raises if one other than step is missing)."""
    missing = [k for k in VISIBLE_FIELDS if k not in ground_truth and k != "step"]
    if missing:
        raise MissingFieldsError(missing)
    return {k: ground_truth[k] for k in VISIBLE_FIELDS if k in ground_truth}


def player_view(ground_truth: Mapping[str, Any]) -> PlayerView:
    """Parse the player-visible part of a ground-truth dict (raises :class:`MissingFieldsError`)."""
    gt = visible(ground_truth)
    step = gt.get("step")
    return PlayerView(
        step=None if step is None else int(step),
        position=(int(gt["position"][0]), int(gt["position"][1])),
        facing=(int(gt["facing"][0]), int(gt["facing"][1])),
        inventory={k: int(v) for k, v in gt["inventory"].items()},
        achievements=tuple(gt["achievements"]),
        sleeping=bool(gt["sleeping"]),
        daylight=float(gt["daylight"]),
        view=tuple(tuple(row) for row in gt["view"]),
    )
