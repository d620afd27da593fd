"""New Crafter games that share one set of textures and play exactly like ``crafter.Env``.

``crafter.Env()`` loads its 19 texture PNG files from disk every time (~25 ms, a third of what
a new episode costs beside world generation). Here one pristine game per configuration is built
once and every episode gets a deep copy of it (~0.3 ms) that shares the template's read-only
``Textures`` and render caches. The games are :class:`Game` instances: a ``crafter.Env`` whose
world generation (:mod:`vlmforge_crafter.worldgen`) and frame drawing
(:mod:`vlmforge_crafter.render`) are faster and give the same worlds and pixels. The copy has
never been reset, so its first ``reset()`` builds the same world as ``crafter.Env(seed=seed)``
(``tests/crafter/test_games.py`` and ``tests/crafter/test_fast_engine.py`` play seeds on both
and compare every frame, reward and object).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import crafter
from crafter import objects

from vlmforge_crafter import render, worldgen
from vlmforge_crafter.config import CrafterConfig
from vlmforge_crafter.determinism import make_deterministic


def _no_semantic_map() -> None:
    return None


class Game(crafter.Env):
    """``crafter.Env`` with :func:`vlmforge_crafter.worldgen.generate_world` in ``reset``."""

    def reset(self) -> Any:
        # crafter 1.8's Env.reset, line for line, but for the world generator
        center = (self._world.area[0] // 2, self._world.area[1] // 2)
        self._episode += 1
        self._step = 0
        self._world.reset(seed=hash((self._seed, self._episode)) % (2**31 - 1))
        self._update_time()
        self._player = objects.Player(self._world, center)
        self._last_health = self._player.health
        self._world.add(self._player)
        self._unlocked: set[str] = set()
        worldgen.generate_world(self._world, self._player)
        return self._obs()


class Games:
    """``crafter.Env`` instances for one configuration. Thread-safe."""

    def __init__(self, config: CrafterConfig):
        self.config = config
        self._template: Any = None
        self._lock = threading.Lock()

    def new(self, seed: int) -> Any:
        """A deterministic Env whose first ``reset()`` builds seed ``seed``'s world."""
        template = self._get_template()
        shared = (template._textures, template._local_view._cache)
        env = copy.deepcopy(template, {id(obj): obj for obj in shared})
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
        render.install(env, render.RenderCache())
        env.__class__ = Game
        return env
