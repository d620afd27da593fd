"""Makes Crafter deterministic across processes (see docs/crafter.md, "Determinism").

Crafter keeps each world chunk's objects in a ``set()``. Set order follows memory addresses,
which differ between processes, and ``Env._balance_object`` picks the creature to despawn by
index into that order, so two processes with the same seed and actions diverge after a few
dozen steps. Giving ``World.chunks`` a stable order (each chunk's objects sorted by position;
two objects never share a tile) removes the only set-order dependence that reaches the game's
random choices.

The fix is applied per environment instance by switching its world to a subclass, so the
``crafter`` package itself (and any other user of it in the process) is left untouched.
"""

from __future__ import annotations

from typing import Any

from crafter import engine


def _position(obj: Any) -> tuple[int, int]:
    return int(obj.pos[0]), int(obj.pos[1])


class StableChunksWorld(engine.World):
    """A crafter World whose ``chunks`` lists each chunk's objects in position order."""

    @property
    def chunks(self) -> dict[Any, list[Any]]:
        return {key: sorted(objs, key=_position) for key, objs in self._chunks.items()}


def make_deterministic(env: Any) -> Any:
    """Apply the stable-chunk-order fix to a ``crafter.Env`` (before ``reset``); returns it."""
    env._world.__class__ = StableChunksWorld
    return env
