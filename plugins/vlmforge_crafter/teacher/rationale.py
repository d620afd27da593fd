"""Short natural-language descriptions used in the agent's rationales."""

from __future__ import annotations

from vlmforge_crafter.wording import describe_offset

Pos = tuple[int, int]
#: What a goal proposes: the next actions and the rationale given for them.
Plan = tuple[list[str], str]


def where(origin: Pos, target: Pos) -> str:
    """(0, 0) -> (2, -1): "2 right, 1 up" (the environment's own wording); the same tile: "here"."""
    return describe_offset(target[0] - origin[0], target[1] - origin[1])
