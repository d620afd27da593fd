"""The compiled loop behind :mod:`vlmforge_crafter.worldgen`: opensimplex's own compiled 3-D
noise at every point of a grid. Needs numba (imported by whoever imports this module, which
:func:`vlmforge_crafter.worldgen._compiled_grid` does lazily, falling back without it).

A module of its own, at top level, so that numba's on-disk cache of the compiled loop is found
again by every later process (a function compiled inside another function is recompiled).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from opensimplex.internals import _noise3


@njit(cache=True)
def noise_grid(xs, ys, z, perm, grad):
    """``out[i, j] = noise3(xs[i], ys[j], z)`` for opensimplex's permutation tables."""
    out = np.empty((xs.size, ys.size))
    for i in range(xs.size):
        for j in range(ys.size):
            out[i, j] = _noise3(xs[i], ys[j], z, perm, grad)
    return out
