"""Crafter's words for grid offsets, shared by the text observation and the scripted teacher.

Pure Python (no crafter, no numpy): the teacher may import it without seeing the game's state.
"""

from __future__ import annotations


def describe_offset(dx: int, dy: int) -> str:
    """A grid offset in the words of the text observation: (2, -1) -> "2 right, 1 up";
    (0, 0) -> "here" (y grows downwards)."""
    parts = []
    if dx:
        parts.append(f"{abs(dx)} {'right' if dx > 0 else 'left'}")
    if dy:
        parts.append(f"{abs(dy)} {'down' if dy > 0 else 'up'}")
    return ", ".join(parts) or "here"
