"""Seed specs: ``"0-99"``, ``"0,3,5-9"``, ``7``, or a TOML list of ints and range strings.

A seed is an integer from 0 to ``MAX_SEED`` (2**32 - 1): the range numpy's ``RandomState`` and
gym-style environments accept, well inside the store's 64-bit integer columns. (Crafter itself
hashes any integer, but a seed outside that range cannot be stored or replayed everywhere.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vlmforge.errors import ConfigError

MAX_SEEDS = 1_000_000
MAX_SEED = 2**32 - 1
SEED_RANGE = f"integers from 0 to {MAX_SEED} (2**32 - 1)"


def parse_seeds(spec: str | int | Sequence[str | int]) -> list[int]:
    """Expand a seed spec into a list of distinct non-negative seeds, in the order given.

    Raises ConfigError on empty specs, reversed or malformed ranges, negative, repeated or too
    large seeds, and on anything but a string, an int or a list (``true`` is not a seed).
    """
    if isinstance(spec, bool) or not isinstance(spec, int | str | list | tuple):
        raise ConfigError(
            f"seeds: expected a seed spec like '0-9', '1,4,7', 7 or [0, 1, '5-9'], got {spec!r}."
        )
    if isinstance(spec, int):
        items: list[str | int] = [spec]
    elif isinstance(spec, str):
        if not spec.strip():
            raise ConfigError("seeds: the seed spec is empty; give e.g. '0-9' or '1,4,7'.")
        items = [part.strip() for part in spec.split(",")]
    else:
        items = list(spec)
        if not items:
            raise ConfigError("seeds: the seed list is empty; give e.g. [0, 1, 2] or '0-9'.")
    seeds: list[int] = []
    seen: set[int] = set()
    for item in items:
        for seed in _expand(item):
            if seed in seen:
                raise ConfigError(f"seeds: seed {seed} is listed more than once in {spec!r}.")
            seen.add(seed)
            seeds.append(seed)
            if len(seeds) > MAX_SEEDS:
                raise ConfigError(f"seeds: more than {MAX_SEEDS:,} seeds in {spec!r}.")
    return seeds


def _expand(item: str | int) -> range:
    if isinstance(item, bool) or not isinstance(item, int | str):
        raise ConfigError(f"seeds: {item!r} is not a seed or a range like '0-9'.")
    if isinstance(item, int):
        return range(_in_range(item), item + 1)
    text = item.strip()
    if not text:
        raise ConfigError("seeds: empty item in the seed spec (two commas in a row?).")
    lo_text, dash, hi_text = text.partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
    except ValueError:
        raise ConfigError(
            f"seeds: {text!r} is not a seed or a range like '0-9' (non-negative integers)."
        ) from None
    if hi < lo:
        raise ConfigError(f"seeds: range {text!r} is reversed; write '{hi}-{lo}'.")
    return range(_in_range(lo), _in_range(hi) + 1)


def _in_range(seed: int) -> int:
    if seed < 0:
        raise ConfigError(f"seeds: seed {seed} is negative; seeds are {SEED_RANGE}.")
    if seed > MAX_SEED:
        raise ConfigError(f"seeds: seed {seed} is too large; seeds are {SEED_RANGE}.")
    return seed


def format_seeds(seeds: Sequence[int]) -> str:
    """Compact form of a seed list: ``[0,1,2,3,7]`` -> ``"0-3,7"``."""
    parts: list[str] = []
    ordered = list(seeds)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def checked_seeds(value: Any) -> Any:
    """A pydantic ``mode="before"`` field validator's body: ``value`` unchanged if it is a
    valid seed spec (before pydantic's lax mode turns ``true`` into 1).

    Raises ValueError (which pydantic reports with the file, line and key) otherwise.
    """
    try:
        parse_seeds(value)
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("seeds: ")) from None
    return value
