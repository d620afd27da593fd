"""The random policy: seeded, uniform over the environment's actions, no network."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from tests.policies.conftest import make_spec, observation
from tests.policies.test_openai_policy import make_policy
from vlmforge.errors import ConfigError


def actions(policy, seed: int, steps: int, spec=None) -> list[list[str]]:
    async def go() -> list[list[str]]:
        episode = await policy.start_episode(spec or make_spec(), seed)
        out = []
        for i in range(steps):
            decision = await episode.act(observation(i))
            (call,) = decision.tool_calls
            args = json.loads(call.function.arguments)
            out.append(args.get("actions") or [args["action"]])
            assert decision.reply.tool_calls == decision.tool_calls
            assert decision.lm_call is None and not decision.parsed_from_text
        return out

    return asyncio.run(go())


def test_deterministic_per_seed_and_different_across_seeds() -> None:
    policy = make_policy({}, "random")
    assert actions(policy, 3, 30) == actions(policy, 3, 30)
    assert actions(policy, 3, 30) != actions(policy, 4, 30)


def test_uniform_over_the_environment_actions() -> None:
    spec = make_spec()
    drawn = Counter(a for step in actions(make_policy({}, "random"), 0, 2000, spec) for a in step)
    assert set(drawn) == set(spec.action_names)
    expected = 2000 / len(spec.action_names)
    assert all(abs(n - expected) < 0.15 * expected for n in drawn.values())


def test_actions_per_call_capped_by_the_environment() -> None:
    steps = actions(make_policy({"actions_per_call": 3}, "random"), 0, 5)
    assert all(len(s) == 3 for s in steps)
    capped = actions(make_policy({"actions_per_call": 9}, "random"), 0, 5)
    assert all(len(s) == 4 for s in capped)  # the spec allows 4


def test_single_action_tool() -> None:
    spec = make_spec(max_actions_per_call=1)
    steps = actions(make_policy({"actions_per_call": 3}, "random"), 0, 5, spec)
    assert all(len(s) == 1 for s in steps)


def test_seed_offset_shifts_the_rng() -> None:
    assert actions(make_policy({"seed_offset": 5}, "random"), 0, 20) == actions(
        make_policy({}, "random"), 5, 20
    )


def test_use_vision_controls_the_recorded_prompt() -> None:
    async def prompt(config):
        episode = await make_policy(config, "random").start_episode(make_spec(), 0)
        return (await episode.act(observation(0))).prompt

    assert asyncio.run(prompt({}))[-1].image_hashes()
    assert not asyncio.run(prompt({"use_vision": False}))[-1].image_hashes()


def test_unknown_key() -> None:
    with pytest.raises(ConfigError, match="unknown key 'seed_ofset'"):
        make_policy({"seed_ofset": 1}, "random")


def test_environment_without_tools_stops_the_run() -> None:
    from vlmforge.components import FatalPolicyError

    policy = make_policy({}, "random")
    with pytest.raises(FatalPolicyError, match="exposes no tools"):
        asyncio.run(policy.start_episode(make_spec(tools=[]), 0))
