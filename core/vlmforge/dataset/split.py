"""Train/validation split by EPISODE (seeded, optionally stratified) and the seeded row shuffle."""

from __future__ import annotations

import math
import random
from array import array
from collections import defaultdict
from collections.abc import Sequence


def validation_episodes(
    keys: Sequence[str],
    strata: Sequence[int],
    fraction: float,
    seed: int,
    stratify: bool = False,
) -> set[int]:
    """The positions in ``keys`` whose episodes go to validation.

    ``round(len(keys) * fraction)`` episodes (at least one when ``fraction > 0`` and there are
    two or more episodes, never all of them). With ``stratify``, episodes are grouped by
    ``strata`` (unique-achievement count) and the validation episodes are allotted to the groups
    in proportion to their size (largest remainders). The result depends only on the episode
    keys, the strata, the fraction and the seed, not on the order episodes were read in.
    """
    n = len(keys)
    if n == 0 or fraction <= 0:
        return set()
    total = round(n * fraction)
    if total == 0 and n >= 2:
        total = 1
    total = min(total, n - 1)
    if total <= 0:
        return set()
    groups: dict[int, list[int]] = defaultdict(list)
    for pos in range(n):
        groups[strata[pos] if stratify else 0].append(pos)
    quotas = _allot(total, {g: len(members) for g, members in groups.items()})
    rng = random.Random(seed)
    chosen: set[int] = set()
    for g in sorted(groups):
        members = sorted(groups[g], key=lambda p: keys[p])
        rng.shuffle(members)
        chosen.update(members[: quotas[g]])
    return chosen


def _allot(total: int, sizes: dict[int, int]) -> dict[int, int]:
    """Largest-remainder apportionment of ``total`` over groups of ``sizes``."""
    n = sum(sizes.values())
    exact = {g: total * size / n for g, size in sizes.items()}
    quotas = {g: math.floor(x) for g, x in exact.items()}
    left = total - sum(quotas.values())
    for g in sorted(sizes, key=lambda g: (-(exact[g] - quotas[g]), g))[:left]:
        quotas[g] += 1
    return quotas


def row_order(n: int, seed: int, shuffle: bool) -> array:
    """Row indices in output order: a seeded permutation, or as produced (8 bytes a row)."""
    order = array("q", range(n))
    if shuffle:
        random.Random(f"rows:{seed}").shuffle(order)
    return order
