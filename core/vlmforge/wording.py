"""Counts in messages: ``1 step``, ``2 steps`` (``plural``), ``1 seed was`` (``were``)."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 step``, ``0 steps``, ``2 tool calls`` (``many``: an irregular plural)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def were(count: int) -> str:
    """The verb that goes with ``count`` things: ``was`` or ``were``."""
    return "was" if count == 1 else "were"
