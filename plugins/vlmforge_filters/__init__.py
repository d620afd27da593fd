"""Bundled plugin: the trace filters of ``vlmforge filter`` (``--filter NAME``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.components import FilterFactory

_FILTERS = {
    "select": (
        "episode:Select",
        "Keep episodes of given runs, models, envs, policies, seeds or a time range.",
    ),
    "status": ("episode:Status", "Keep episodes whose status is listed (default: done)."),
    "min-steps": ("episode:MinSteps", "Drop episodes with fewer than min_steps steps."),
    "max-steps": ("episode:MaxSteps", "Drop episodes with more than max_steps steps."),
    "min-achievements": (
        "episode:MinAchievements",
        "Drop episodes with fewer than min_unique unique achievements.",
    ),
    "min-reward": ("episode:MinReward", "Drop episodes whose total reward is below min_total."),
    "loops": (
        "loops:Loops",
        "Drop (or trim) repeated actions, unchanged states and too few unique states.",
    ),
    "decision-quality": (
        "steps:DecisionQuality",
        "Drop steps with invalid/missing tool calls, empty replies or provider errors.",
    ),
    "achievement-window": (
        "steps:AchievementWindow",
        "Keep only steps within N steps before an achievement unlock.",
    ),
    "has-image": ("steps:HasImage", "Keep steps whose user turn has an image."),
}


@hookimpl
def register_filters(register: Register[FilterFactory]) -> None:
    for name, (factory, description) in _FILTERS.items():
        register(name, f"vlmforge_filters.{factory}", description=description)
