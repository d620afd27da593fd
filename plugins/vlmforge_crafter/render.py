"""Crafter's frame, drawn faster: the same pixels, array operations instead of per-tile loops.

``crafter.Env.render`` spends ~1.1 ms of a ~1.5 ms step at 64 px (2-core dev machine): its
``LocalView`` copies each of the 63 visible tiles with its own NumPy slice assignment and then
walks *every* object in the world to find the few in view, and its ``ItemView`` redraws the
inventory from textures every step. Here:

- the visible tiles are one fancy-index into an atlas of the materials' textures (built once
  per tile size from crafter's own ``Textures``);
- the objects in view are read from the world's object map (one per tile), each drawn with
  crafter's own alpha blend; they never overlap, so the order they are drawn in does not
  matter;
- the lighting, the night noise (which draws from the game's RNG, as before) and the sleep tint
  are crafter's own methods, unchanged;
- the inventory strip depends only on the inventory, so it is cached per inventory.

The frames are identical to crafter's, pixel for pixel (``tests/crafter/test_fast_engine.py``
plays seeds through day, night, sleep and a full inventory against a plain ``crafter.Env``).
Anything unexpected (a texture of another shape, a material crafter added at run time) falls
back to crafter's own drawing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from crafter import engine

#: Bytes of inventory strips kept per cache before it starts over (a strip is 2.6 KB at 64 px,
#: 42 KB at 256 px; an episode sees a few dozen inventories).
MAX_CACHED_STRIP_BYTES = 4 << 20


class RenderCache:
    """What the views of every episode of one configuration share: tile atlases and inventory
    strips. Entries are immutable once stored, so sharing between threads is safe."""

    def __init__(self) -> None:
        self.atlases: dict[tuple[int, int, int], np.ndarray | None] = {}
        self.strips: dict[tuple[Any, ...], np.ndarray] = {}
        self.strip_bytes = 0


class FastLocalView(engine.LocalView):
    """``engine.LocalView`` with the tiles and objects drawn by array operations."""

    def __init__(self, world: Any, textures: Any, grid: Any, cache: RenderCache):
        super().__init__(world, textures, grid)
        self._cache = cache

    def __call__(self, player: Any, unit: Any) -> Any:
        self._unit = np.array(unit)
        self._center = np.array(player.pos)
        ux, uy = int(self._unit[0]), int(self._unit[1])
        atlas = self._atlas(ux, uy)
        if atlas is None:
            return super().__call__(player, unit)
        world = self._world
        (gx, gy), (ox, oy) = self._grid, self._offset
        x0, y0 = int(self._center[0]) - int(ox), int(self._center[1]) - int(oy)
        xa, xb = max(x0, 0), min(x0 + int(gx), int(self._area[0]))
        ya, yb = max(y0, 0), min(y0 + int(gy), int(self._area[1]))
        outside = len(atlas) - 1  # tiles beyond the world's edge stay grey (127)
        ids = np.full((int(gx), int(gy)), outside, np.intp)
        objs = None
        if xa < xb and ya < yb:
            window = world._mat_map[xa:xb, ya:yb]
            if int(window.max()) >= outside:  # a material the atlas does not know
                return super().__call__(player, unit)
            ids[xa - x0 : xb - x0, ya - y0 : yb - y0] = window
            objs = world._obj_map[xa:xb, ya:yb]
        # (gx, gy, ux, uy, 3) -> (gx, ux, gy, uy, 3) -> the canvas crafter draws tile by tile
        canvas = atlas[ids].transpose(0, 2, 1, 3, 4).reshape(int(gx) * ux, int(gy) * uy, 3)
        if objs is not None:
            for i, j in zip(*np.nonzero(objs), strict=True):
                obj = world._objects[objs[i, j]]
                texture = self._textures.get(obj.texture, self._unit)
                pos = np.array((int(i) + xa - x0, int(j) + ya - y0))
                engine._draw_alpha(canvas, pos * self._unit, texture)
        canvas = self._light(canvas, world.daylight)
        if player.sleeping:
            canvas = self._sleep(canvas)
        return canvas

    def _atlas(self, ux: int, uy: int) -> np.ndarray | None:
        """The materials' tiles by material id, plus a grey tile last; None if a texture is not
        the plain (ux, uy, 3+) image this drawing assumes."""
        names = self._world._mat_names
        key = (ux, uy, len(names))
        if key not in self._cache.atlases:
            tiles = []
            for material_id in range(len(names)):
                texture = self._textures.get(names[material_id], (ux, uy))
                if texture.ndim != 3 or texture.shape[:2] != (ux, uy) or texture.shape[2] < 3:
                    self._cache.atlases[key] = None
                    return None
                tiles.append(texture[..., :3])
            tiles.append(np.full((ux, uy, 3), 127, np.uint8))
            atlas = np.stack(tiles).astype(np.uint8)
            atlas.flags.writeable = False
            self._cache.atlases[key] = atlas
        return self._cache.atlases[key]


class CachedItemView(engine.ItemView):
    """``engine.ItemView`` that draws each inventory once and reuses the strip."""

    def __init__(self, textures: Any, grid: Any, cache: RenderCache):
        super().__init__(textures, grid)
        self._cache = cache

    def __call__(self, inventory: Any, unit: Any) -> Any:
        key = (int(unit[0]), int(unit[1]), *inventory.items())
        strips = self._cache.strips
        strip = strips.get(key)
        if strip is None:
            strip = super().__call__(inventory, unit)
            strip.flags.writeable = False
            if self._cache.strip_bytes + strip.nbytes > MAX_CACHED_STRIP_BYTES:
                strips.clear()
                self._cache.strip_bytes = 0
            strips[key] = strip
            self._cache.strip_bytes += strip.nbytes
        return strip


def install(env: Any, cache: RenderCache) -> None:
    """Give a (not yet reset) ``crafter.Env`` the fast views, sharing ``cache``."""
    local, items = env._local_view, env._item_view
    env._local_view = FastLocalView(env._world, env._textures, local._grid, cache)
    env._item_view = CachedItemView(env._textures, items._grid, cache)
