"""New ``crafter.Env`` instances that share one set of textures.

``crafter.Env()`` loads its 19 texture PNG files from disk every time (~25 ms, a third of what
a new episode costs beside world generation). Here one pristine Env per configuration is built
once and every episode gets a deep copy of it (~0.3 ms) that shares the template's read-only
``Textures``. Nothing else differs from ``crafter.Env(seed=seed)``: the copy has never been
reset, so its first ``reset()`` builds the same world (``tests/crafter/test_games.py`` plays a
seed on both and compares every frame).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import crafter

from vlmforge_crafter.config import CrafterConfig
from vlmforge_crafter.determinism import make_deterministic


def _no_semantic_map() -> None:
    return None


class Games:
    """``crafter.Env`` instances for one configuration. Thread-safe."""

    def __init__(self, config: CrafterConfig):
        self.config = config
        self._template: Any = None
        self._lock = threading.Lock()

    def new(self, seed: int) -> Any:
        """A deterministic Env whose first ``reset()`` builds seed ``seed``'s world."""
        template = self._get_template()
        textures = template._textures
        env = copy.deepcopy(template, {id(textures): textures})
        env._seed = int(seed)
        return env

    def _get_template(self) -> Any:
        with self._lock:
            if self._template is None:
                self._template = self._build()
            return self._template

    def _build(self) -> Any:
        cfg = self.config
        env = crafter.Env(
            area=tuple(cfg.area),
            view=tuple(cfg.view),
            size=(cfg.image_size, cfg.image_size),
            length=cfg.length,
            seed=0,
        )
        make_deterministic(env)
        # crafter's step() builds info["semantic"], a copy of the whole 64x64 map with every
        # object drawn in (~50 us); nothing here reads it (the ground truth carries its own
        # semantic view of the visible tiles), so it is skipped. No effect on the game.
        env._sem_view = _no_semantic_map
        return env
