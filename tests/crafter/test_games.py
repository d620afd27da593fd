"""Episodes' ``crafter.Env`` copies share textures and play a seed exactly like crafter itself."""

from __future__ import annotations

import random

import crafter

from tests.crafter.helpers import decode, make_env, many
from vlmforge_crafter.config import ACTION_NAMES, CrafterConfig
from vlmforge_crafter.determinism import make_deterministic
from vlmforge_crafter.games import Games


def _actions(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice([*ACTION_NAMES[:6], "do"]) for _ in range(3)] for _ in range(n)]


def test_an_episode_plays_like_a_plain_crafter_env():
    """Frames, rewards and the end of an episode against ``crafter.Env(seed=3)`` stepped by
    hand with the same primitive actions (after another episode used the same template)."""
    env = make_env()
    other = env.start(11)
    other.reset()
    for actions in _actions(1, 40):
        other.step(many(*actions))

    episode = env.start(3)
    first = episode.reset()
    reference = make_deterministic(crafter.Env(seed=3))
    # (frames are compared as decoded PNGs: render() at night draws from the game's RNG)
    assert (decode(first.images[-1].png) == reference.reset()).all()
    assert first.images[-1].sha256 == make_env().start(3).reset().images[-1].sha256
    for actions in _actions(2, 80):
        out = episode.step(many(*actions))
        reward, done = 0.0, False
        for action in out.actions:
            frame, r, done, _ = reference.step(ACTION_NAMES.index(action))
            reward += r
            if done or reference._player.health <= 0:
                break
        assert (decode(out.observation.images[-1].png) == frame).all()
        assert out.reward == reward
        if out.done:
            break


def test_copies_share_textures_and_nothing_else():
    games = Games(CrafterConfig())
    a, b = games.new(1), games.new(2)
    assert a._textures is b._textures
    assert a._world is not b._world and a._local_view is not b._local_view
    assert (a._seed, b._seed, a._episode) == (1, 2, 0)
    a.reset()
    assert b._world._mat_map.sum() == 0  # b's world is untouched by a's reset
