"""Settings of the ``crafter`` environment (every key is documented in docs/crafter.md)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vlmforge.config import StrictModel

#: Crafter's 17 primitive actions, in the game's index order.
ACTION_NAMES: tuple[str, ...] = (
    "noop",
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "do",
    "sleep",
    "place_stone",
    "place_table",
    "place_furnace",
    "place_plant",
    "make_wood_pickaxe",
    "make_stone_pickaxe",
    "make_iron_pickaxe",
    "make_wood_sword",
    "make_stone_sword",
    "make_iron_sword",
)

#: Crafter's 16 inventory items (health, food, drink and energy included), in the game's order.
ITEM_COUNT = 16

ObservationMode = Literal["text+image", "image_only", "text_only"]


class CrafterConfig(StrictModel):
    """``[env]`` settings for ``--env crafter``."""

    max_steps: int = Field(
        default=10000,
        ge=1,
        description="Cap on primitive env steps per episode (truncates: max_steps).",
    )
    length: int = Field(
        default=10000, ge=1, description="The game's own length in steps (ends: game_length)."
    )
    area: tuple[int, int] = Field(
        default=(64, 64), description="World size in tiles [width, height]."
    )
    view: tuple[int, int] = Field(
        default=(9, 9),
        description="Crafter's view grid [cols, rows] (the bottom rows hold the inventory).",
    )
    image_size: int = Field(
        default=64, ge=16, le=1024, description="Rendered frame size in pixels."
    )
    observation: ObservationMode = Field(
        default="text+image", description="What the policy is shown."
    )
    frame_history: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Previous frames sent with the current one (oldest first).",
    )
    max_actions_per_call: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Most primitive actions one interact_many call may carry.",
    )
    fallback_action: str = Field(
        default="noop", description="Applied once when a decision is invalid."
    )
    png_compress_level: int = Field(
        default=1, ge=0, le=9, description="zlib level for the PNG frames."
    )

    @field_validator("fallback_action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTION_NAMES:
            raise ValueError(f"unknown action '{value}'; use one of: {', '.join(ACTION_NAMES)}")
        return value

    @field_validator("area")
    @classmethod
    def _area_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) < 16 or max(value) > 1024:
            raise ValueError("each side of area must be between 16 and 1024 tiles, e.g. [64, 64]")
        return value

    @field_validator("view")
    @classmethod
    def _view_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        cols, rows = value
        if cols < 3 or cols > 33:
            raise ValueError("view columns must be between 3 and 33, e.g. [9, 9]")
        item_rows = math.ceil(ITEM_COUNT / cols)
        if rows - item_rows < 1 or rows > 33:
            raise ValueError(
                f"view rows must leave at least one map row above the {item_rows} inventory "
                f"rows and be at most 33 (got {rows}); e.g. [9, 9]"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CrafterConfig:
        if self.image_size < 2 * max(self.view):
            raise ValueError(
                f"image_size ({self.image_size}) must be at least twice the view size "
                f"({max(self.view)} tiles): Crafter cannot draw its inventory with tiles "
                "of one pixel; use e.g. 64"
            )
        if self.observation == "text_only" and self.frame_history:
            raise ValueError(
                "frame_history needs frames: set observation to 'text+image' or 'image_only', "
                "or frame_history = 0"
            )
        return self

    @property
    def local_view(self) -> tuple[int, int]:
        """The map part of the view, (cols, rows): 9x7 for the default view of 9x9."""
        cols, rows = self.view
        return cols, rows - math.ceil(ITEM_COUNT / cols)

    @property
    def images(self) -> bool:
        return self.observation != "text_only"

    @property
    def text(self) -> bool:
        return self.observation != "image_only"
