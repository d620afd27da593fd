"""Rewards, achievements, frames and terminations match crafter's own env, step for step."""

from __future__ import annotations

import random

import crafter
import numpy as np
import pytest

from tests.crafter.helpers import decode, make_env, many, one
from vlmforge_crafter.determinism import make_deterministic
from vlmforge_crafter.env import EpisodeOverError

ACTIONS = list(crafter.constants.actions)


def _raw_env(seed: int, **kwargs) -> crafter.Env:
    env = make_deterministic(crafter.Env(seed=seed, **kwargs))
    env.reset()
    return env


def test_lockstep_with_raw_crafter_until_death():
    """Same seed and actions: identical rewards, unlocks, inventory, frames and end of game."""
    seed, rng = 11, random.Random(11)
    episode = make_env().start(seed)
    obs = episode.reset()
    raw = _raw_env(seed)
    assert np.array_equal(decode(obs.images[-1].png), raw.render())
    total, raw_total, seen_unlocks, seen_damage = 0.0, 0.0, [], False
    raw_unlocked: set[str] = set()
    for _ in range(400):
        # favour "do" and moves so the agent collects things and meets creatures
        choices = [*ACTIONS[:6], "do", "do", "place_plant"]
        batch = [rng.choice(choices) for _ in range(rng.randint(1, 8))]
        out = episode.step(many(*batch))
        reward, new, frame, done, info = 0.0, [], None, False, {}
        for action in out.actions:
            frame, r, done, info = raw.step(ACTIONS.index(action))
            reward += r
            got = {k for k, v in info["achievements"].items() if v > 0} - raw_unlocked
            raw_unlocked |= got
            new.extend(sorted(got))
            seen_damage |= r < 0
        assert out.actions == batch[: len(out.actions)]
        assert out.reward == pytest.approx(reward, abs=1e-12)
        assert isinstance(out.reward, float)
        # never cumulative: +1 per new unlock, at most +0.1 health per primitive step
        assert out.reward <= len(out.achievements) + 0.1 * len(out.actions) + 1e-9
        assert out.achievements == new
        gt = out.observation.ground_truth
        assert gt["inventory"] == info["inventory"]
        assert gt["position"] == [int(v) for v in info["player_pos"]]
        assert np.array_equal(decode(out.observation.images[-1].png), frame)
        assert out.done == done
        total += out.reward
        raw_total += reward
        seen_unlocks += out.achievements
        if out.done:
            assert out.termination == "death" and not out.truncated
            assert info["discount"] == 0.0 and gt["inventory"]["health"] == 0
            break
    else:
        pytest.fail("the random agent did not die within 400 decisions")
    assert total == pytest.approx(raw_total)
    assert seen_unlocks == episode.unlocked == gt["achievements"]
    assert len(seen_unlocks) >= 2 and seen_damage  # the comparison covered real rewards
    with pytest.raises(EpisodeOverError, match="has ended"):
        episode.step(one("noop"))


def test_max_steps_truncates_mid_call():
    episode = make_env(max_steps=10).start(2)
    episode.reset()
    assert episode.step(many(*["noop"] * 8)).done is False
    out = episode.step(many(*["noop"] * 8))
    assert out.actions == ["noop", "noop"]
    assert (out.done, out.truncated, out.termination) == (True, True, "max_steps")
    assert out.info["env_steps"] == 10
    assert out.observation.ground_truth["step"] == 10
    assert out.observation.ground_truth["max_steps"] == 10
    assert "Step 10/10." in (out.observation.text or "")


def test_game_length_ends_the_game_not_truncated():
    episode = make_env(length=5).start(2)
    first = episode.reset()
    assert "Step 0/5." in (first.text or "")  # the real cap: min(max_steps, length)
    out = episode.step(many(*["noop"] * 8))
    assert out.actions == ["noop"] * 5
    assert (out.done, out.truncated, out.termination) == (True, False, "game_length")


def test_step_before_reset_is_an_error():
    with pytest.raises(EpisodeOverError, match="reset"):
        make_env().start(1).step(one("noop"))


def test_same_seed_same_world_fresh_env_per_episode():
    env = make_env()
    a = env.start(42).reset()
    b = env.start(42).reset()
    c = env.start(43).reset()
    assert a.images[0].sha256 == b.images[0].sha256
    assert a.ground_truth["view"] == b.ground_truth["view"]
    assert a.ground_truth["semantic_view"] != c.ground_truth["semantic_view"]
    episode = env.start(42)
    episode.reset()
    episode.step(many("move_left", "do"))
    assert episode.reset().images[0].sha256 == a.images[0].sha256  # reset rebuilds the world


def _trajectory(env, seed: int) -> list[tuple[str, float, list[str]]]:
    rng = random.Random(seed)
    episode = env.start(seed)
    out_hashes = [(episode.reset().images[0].sha256, 0.0, [])]
    for _ in range(40):
        out = episode.step(many(*(rng.choice(ACTIONS[:6]) for _ in range(3))))
        out_hashes.append((out.observation.images[0].sha256, out.reward, out.achievements))
        if out.done:
            break
    return out_hashes


def test_concurrent_episodes_in_threads_match_sequential():
    """The eval runner steps episodes in worker threads: they must not interfere."""
    from concurrent.futures import ThreadPoolExecutor

    env = make_env()
    seeds = [0, 1, 2, 3]
    sequential = [_trajectory(env, s) for s in seeds]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: _trajectory(env, s), seeds))
    assert threaded == sequential
