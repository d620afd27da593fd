"""Short natural-language descriptions used in the agent's rationales."""

from __future__ import annotations

Pos = tuple[int, int]
#: What a goal proposes: the next actions and the rationale given for them.
Plan = tuple[list[str], str]


def where(origin: Pos, target: Pos) -> str:
    """(0, 0) -> (2, -1): "2 right, 1 up" (the environment's own wording, as
    ``vlmforge_crafter.observe.describe_offset`` writes it); the same tile: "here"."""
    dx, dy = target[0] - origin[0], target[1] - origin[1]
    parts = [f"{abs(dx)} {'right' if dx > 0 else 'left'}"] if dx else []
    if dy:
        parts.append(f"{abs(dy)} {'down' if dy > 0 else 'up'}")
    return ", ".join(parts) or "here"
