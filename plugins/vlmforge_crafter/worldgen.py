"""Crafter's world generation, the same worlds in a fraction of the time.

``crafter.worldgen.generate_world`` decides each of the 64 x 64 tiles in its own Python call,
building a ``functools.partial`` per tile and going through opensimplex's method wrapper for each
of ~27,000 noise values (~70-80 ms a world on the 2-core dev machine, most of a new episode's
cost). This module makes the same decisions in the same order with the same arithmetic:

- every noise field crafter reads (start area, water, mountain, caves, tunnels, ores, lava,
  sand, trees) is computed for the whole map at once by one compiled loop over opensimplex's own
  compiled noise function (numba, cached on disk like opensimplex's), with the same arguments
  crafter passes it (``x / size`` as a Python float, ``z`` an int); the arithmetic on the fields
  (``sqrt``, ``exp``, the weighted sums of octaves) is NumPy's on arrays, the same IEEE
  operations crafter does on scalars. Noise is a pure function, so computing it for tiles
  crafter would not have asked about changes nothing;
- then each tile takes crafter's branches in crafter's order (x outer, y inner), drawing from
  ``world.random`` exactly where and as often as crafter does (the opensimplex seed first, then
  per tile), and objects are created and added in the same order.

``tests/crafter/test_fast_engine.py`` compares the material map, every object and the RNG state
after generation with crafter's own generator over many seeds. The functions here mirror crafter
1.8's ``worldgen.py``; a crafter release that changes world generation must change this module
too (that test fails). Without numba (or with an opensimplex laid out differently) the fields are
computed by calling ``simplex.noise3`` per tile: the same values, slower.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import opensimplex
from crafter import constants, objects

#: (x arguments, y arguments, z) -> the noise at every (x, y), shape (len(xs), len(ys)).
NoiseGrid = Callable[[Sequence[float], Sequence[float], int], np.ndarray]
#: Octaves of a field: (size, weight) pairs in crafter's order.
Octaves = tuple[tuple[int, float], ...]


def generate_world(world: Any, player: Any) -> None:
    """Fill ``world`` (just reset, holding only ``player``) as ``crafter.worldgen`` would."""
    simplex = opensimplex.OpenSimplex(seed=world.random.randint(0, 2**31 - 1))
    grid = _noise_grid(simplex)
    width, height = world.area
    xs, ys = range(width), range(height)
    px, py = player.pos[0], player.pos[1]
    dist = np.sqrt((np.arange(width)[:, None] - px) ** 2 + (np.arange(height)[None, :] - py) ** 2)

    start = 4 - dist
    start += 2 * _field(grid, xs, ys, 8, ((3, 1),))
    start = 1 / (1 + np.exp(-start))
    water = _field(grid, xs, ys, 3, ((15, 1), (5, 0.15)), normalize=False) + 0.1
    water -= 2 * start
    mountain = _field(grid, xs, ys, 0, ((15, 1), (5, 0.3)))
    mountain -= 4 * start + 0.3 * water
    fields = {
        "start": start,
        "water": water,
        "mountain": mountain,
        "cave": _field(grid, xs, ys, 6, ((7, 1),)),
        # crafter's tunnels pass (2 * x, y / 5) and (x / 5, 2 * y) as the tile's position
        "horizontal": _field(grid, [2 * x for x in xs], [y / 5 for y in ys], 7, ((3, 1),)),
        "vertical": _field(grid, [x / 5 for x in xs], [2 * y for y in ys], 7, ((3, 1),)),
        "coal": _field(grid, xs, ys, 1, ((8, 1),)),
        "iron": _field(grid, xs, ys, 2, ((6, 1),)),
        "lava": _field(grid, xs, ys, 6, ((5, 1),)),
        "sand": _field(grid, xs, ys, 4, ((9, 1),)),
        "tree": _field(grid, xs, ys, 5, ((7, 1),)),
    }
    names, tunnels = _materials(world, {k: v.tolist() for k, v in fields.items()})
    ids = world._mat_ids
    world._mat_map[:, :] = np.array([[ids[name] for name in column] for column in names], np.uint8)
    _objects(world, player, names, tunnels, dist.tolist())


def _field(
    grid: NoiseGrid,
    xs: Sequence[float],
    ys: Sequence[float],
    z: int,
    octaves: Octaves,
    normalize: bool = True,
) -> np.ndarray:
    """crafter's ``_simplex`` at every tile: octaves of noise weighted and (by default)
    normalised, in crafter's order of operations."""
    value: Any = 0
    for size, weight in octaves:
        value = value + weight * grid([x / size for x in xs], [y / size for y in ys], z)
    if normalize:
        value = value / sum(weight for _, weight in octaves)
    return np.asarray(value, np.float64)


def _noise_grid(simplex: Any) -> NoiseGrid:
    """The noise on a grid, by the compiled loop when numba and opensimplex's compiled noise
    are there, else by ``simplex.noise3`` per point (the same values)."""
    compiled = _compiled_grid()
    perm = getattr(simplex, "_perm", None)
    grad = getattr(simplex, "_perm_grad_index3", None)
    if compiled is not None and perm is not None and grad is not None:

        def grid(xs: Sequence[float], ys: Sequence[float], z: int) -> np.ndarray:
            x, y = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
            return compiled(x, y, int(z), perm, grad)

        return grid

    def slow(xs: Sequence[float], ys: Sequence[float], z: int) -> np.ndarray:
        return np.array([[simplex.noise3(float(x), float(y), z) for y in ys] for x in xs])

    return slow


@functools.cache
def _compiled_grid() -> Any:
    """The compiled grid loop (numba compiles it at its first call, or loads it from its disk
    cache), or None without numba or opensimplex's compiled noise."""
    try:
        from opensimplex.internals import _noise3
    except ImportError:
        return None
    if not hasattr(_noise3, "py_func"):  # opensimplex without numba: nothing to gain
        return None
    try:
        from vlmforge_crafter.noise_kernel import noise_grid
    except ImportError:
        return None
    return noise_grid


def _materials(
    world: Any, fields: dict[str, list[list[float]]]
) -> tuple[list[list[str]], set[tuple[int, int]]]:
    """Each tile's material, tile by tile in crafter's order (x outer, y inner), drawing from
    ``world.random`` exactly where crafter's ``_set_material`` does."""
    uniform = world.random.uniform
    width, height = world.area
    start, water, mountain = fields["start"], fields["water"], fields["mountain"]
    cave, horizontal, vertical = fields["cave"], fields["horizontal"], fields["vertical"]
    coal, iron, lava, sand, tree = (fields[k] for k in ("coal", "iron", "lava", "sand", "tree"))
    names: list[list[str]] = []
    tunnels: set[tuple[int, int]] = set()
    for x in range(width):
        column: list[str] = []
        for y in range(height):
            m, w = mountain[x][y], water[x][y]
            if start[x][y] > 0.5:
                name = "grass"
            elif m > 0.15:
                if cave[x][y] > 0.15 and m > 0.3:
                    name = "path"
                elif horizontal[x][y] > 0.4 or vertical[x][y] > 0.4:  # tunnels
                    name = "path"
                    tunnels.add((x, y))
                elif coal[x][y] > 0 and uniform() > 0.85:
                    name = "coal"
                elif iron[x][y] > 0.4 and uniform() > 0.75:
                    name = "iron"
                elif m > 0.18 and uniform() > 0.994:
                    name = "diamond"
                elif m > 0.3 and lava[x][y] > 0.35:
                    name = "lava"
                else:
                    name = "stone"
            elif 0.25 < w <= 0.35 and sand[x][y] > -0.2:
                name = "sand"
            elif w > 0.3:
                name = "water"
            elif tree[x][y] > 0 and uniform() > 0.8:  # grassland
                name = "tree"
            else:
                name = "grass"
            column.append(name)
        names.append(column)
    return names, tunnels


def _objects(
    world: Any,
    player: Any,
    names: list[list[str]],
    tunnels: set[tuple[int, int]],
    dist: list[list[float]],
) -> None:
    """Cows, zombies and skeletons, tile by tile as crafter's ``_set_object``."""
    uniform = world.random.uniform
    walkable = constants.walkable
    width, height = world.area
    for x in range(width):
        for y in range(height):
            material, d = names[x][y], dist[x][y]
            if material not in walkable:
                pass
            elif d > 3 and material == "grass" and uniform() > 0.985:
                world.add(objects.Cow(world, (x, y)))
            elif d > 10 and uniform() > 0.993:
                world.add(objects.Zombie(world, (x, y), player))
            elif material == "path" and (x, y) in tunnels and uniform() > 0.95:
                world.add(objects.Skeleton(world, (x, y), player))
