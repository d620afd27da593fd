"""Train/validation split by EPISODE (seeded, optionally stratified) and the seeded row shuffle."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence


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


class FeistelPermutation:
    """A seeded pseudo-random permutation of ``range(n)`` computed on the fly (no memory per
    element): a 4-round Feistel network over the smallest even-bit domain holding ``n``, with
    cycle-walking back into range."""

    ROUNDS = 4

    def __init__(self, n: int, seed: int):
        self.n = n
        bits = max(2, (max(n, 2) - 1).bit_length())
        self.half = (bits + 1) // 2
        self.mask = (1 << self.half) - 1
        rng = random.Random(f"rows:{seed}")
        self.keys = [rng.getrandbits(64) for _ in range(self.ROUNDS)]

    def _round(self, value: int, key: int) -> int:
        x = (value * 0x9E3779B97F4A7C15 + key) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 32
        return x & self.mask

    def _encrypt(self, i: int) -> int:
        left, right = i >> self.half, i & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self.half) | right

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        x = self._encrypt(i)
        while x >= self.n:
            x = self._encrypt(x)
        return x

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return (self[i] for i in range(self.n))


def row_order(n: int, seed: int, shuffle: bool) -> Iterable[int]:
    """Row indices in output order: a seeded permutation, or as produced."""
    return FeistelPermutation(n, seed) if shuffle else range(n)
