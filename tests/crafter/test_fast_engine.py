"""The plugin's faster world generation and drawing give crafter's own worlds and frames.

Each check plays the plugin's :class:`~vlmforge_crafter.games.Game` beside a plain
``crafter.Env`` (with the same determinism fix) and compares everything observable: the
material map, every object, the game's RNG state, every frame, reward and end.
"""

from __future__ import annotations

import random
from typing import Any

import crafter
import numpy as np
import pytest
from crafter import engine

from vlmforge_crafter import render, worldgen
from vlmforge_crafter.config import CrafterConfig
from vlmforge_crafter.determinism import make_deterministic
from vlmforge_crafter.games import Game, Games

SLEEP, DO = crafter.constants.actions.index("sleep"), crafter.constants.actions.index("do")


def _pair(games: Games, seed: int, **kwargs: Any) -> tuple[Any, Any]:
    return games.new(seed), make_deterministic(crafter.Env(seed=seed, **kwargs))


def _objects(env: Any) -> list[tuple[str, tuple[int, int], int]]:
    return [(type(o).__name__, tuple(map(int, o.pos)), o.health) for o in env._world.objects]


def _same_world(fast: Any, plain: Any) -> None:
    assert (fast._world._mat_map == plain._world._mat_map).all()
    assert _objects(fast) == _objects(plain)
    fast_state, plain_state = fast._world.random.get_state(), plain._world.random.get_state()
    assert (fast_state[1] == plain_state[1]).all() and fast_state[2] == plain_state[2]


def test_the_games_are_the_fast_engine():
    env = Games(CrafterConfig()).new(0)
    assert isinstance(env, Game)
    assert isinstance(env._local_view, render.FastLocalView)
    assert isinstance(env._item_view, render.CachedItemView)


def test_worlds_match_crafters_generator_over_many_seeds():
    games = Games(CrafterConfig())
    for seed in [*range(12), 1_000, 123_456, 2**31 - 2]:
        fast, plain = _pair(games, seed)
        assert (fast.reset() == plain.reset()).all(), seed
        _same_world(fast, plain)


def test_worlds_match_without_the_compiled_noise(monkeypatch):
    """The fallback (no numba): noise per tile through opensimplex's method, the same world."""
    monkeypatch.setattr(worldgen, "_compiled_grid", lambda: None)
    games = Games(CrafterConfig())
    fast, plain = _pair(games, 7)
    fast.reset(), plain.reset()
    _same_world(fast, plain)


def test_a_second_episode_of_one_game_matches_crafters():
    """``reset()`` again on the same game: crafter seeds the next world from the episode count."""
    games = Games(CrafterConfig())
    fast, plain = _pair(games, 5)
    fast.reset(), plain.reset()
    for _ in range(20):
        fast.step(DO), plain.step(DO)
    assert (fast.reset() == plain.reset()).all()
    _same_world(fast, plain)


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_frames_rewards_and_ends_match_through_night_and_sleep(seed):
    """300 steps take a game through dusk, night (whose noise draws from the game's RNG) and
    dawn; the actions sleep in long runs and do and craft in between, so inventories change."""
    games = Games(CrafterConfig())
    fast, plain = _pair(games, seed)
    assert (fast.reset() == plain.reset()).all()
    rng = random.Random(seed)
    slept = night = 0
    for step in range(300):
        action = SLEEP if 150 <= step < 230 else (DO if rng.random() < 0.4 else rng.randrange(17))
        a, ra, da, _ = fast.step(action)
        b, rb, db, _ = plain.step(action)
        assert (a == b).all(), (seed, step)
        assert (ra, da) == (rb, db), (seed, step)
        slept += plain._player.sleeping
        night += plain._world.daylight < 0.5
        if db:
            break
    _same_world(fast, plain)
    assert (slept and night) or db  # the run reached the cases it is about unless it died first


def test_frames_match_at_other_sizes_and_views():
    """A 96 px frame of an 11 x 9 view (another tile size, another grid) and a small world
    (the view runs past its edge)."""
    config = CrafterConfig(image_size=96, view=[11, 9], area=[24, 24])
    games = Games(config)
    fast = games.new(2)
    plain = make_deterministic(crafter.Env(area=(24, 24), view=(11, 9), size=(96, 96), seed=2))
    assert (fast.reset() == plain.reset()).all()
    rng = random.Random(2)
    for step in range(120):
        action = rng.randrange(17)
        a, _, da, _ = fast.step(action)
        b, _, db, _ = plain.step(action)
        assert (a == b).all() and da == db, step
        if db:
            break


def test_the_inventory_strip_is_crafters_for_every_amount():
    env = Games(CrafterConfig()).new(0)
    env.reset()
    plain = engine.ItemView(env._textures, env._item_view._grid)
    unit = np.array([7, 7])
    inventory = dict(env._player.inventory)
    for amount in [*range(12), 0]:
        for name in inventory:
            inventory[name] = amount if name != "health" else max(amount, 1)
            assert (env._item_view(inventory, unit) == plain(inventory, unit)).all()
    cached = env._item_view(inventory, unit)
    assert not cached.flags.writeable  # shared between episodes: nobody may draw on it
    cache = env._item_view._cache
    assert cache.strip_bytes == sum(s.nbytes for s in cache.strips.values())
    assert cache.strip_bytes <= render.MAX_CACHED_STRIP_BYTES


def test_the_strip_cache_starts_over_at_its_byte_bound(monkeypatch):
    env = Games(CrafterConfig()).new(0)
    env.reset()
    unit, inventory = np.array([7, 7]), dict(env._player.inventory)
    strip = env._item_view(inventory, unit)
    monkeypatch.setattr(render, "MAX_CACHED_STRIP_BYTES", 3 * strip.nbytes)
    for wood in range(1, 6):
        inventory["wood"] = wood
        env._item_view(inventory, unit)
    cache = env._item_view._cache
    assert 1 <= len(cache.strips) <= 3 and cache.strip_bytes == len(cache.strips) * strip.nbytes


def test_copies_share_the_render_cache():
    games = Games(CrafterConfig())
    a, b = games.new(1), games.new(2)
    assert a._local_view._cache is b._local_view._cache is b._item_view._cache
    a.reset()
    assert a._local_view._cache.atlases  # b draws with the atlas a built
