"""Running the scripted policy on the real crafter environment plugin, for the tests."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from vlmforge.components import Decision, Observation
from vlmforge_crafter.config import CrafterConfig
from vlmforge_crafter.env import CrafterEnvironment
from vlmforge_crafter.teacher.policy import ScriptedPolicy, ScriptedPolicyConfig

Strip = Callable[[Observation], Observation]


def play(
    seed: int,
    max_steps: int,
    *,
    strip: Strip | None = None,
    env_config: dict[str, Any] | None = None,
    policy_config: dict[str, Any] | None = None,
    until: Callable[[list[str]], bool] | None = None,
) -> dict[str, Any]:
    """One episode; returns decisions, executed actions and unlocked achievements."""
    settings = {"max_steps": max_steps, "observation": "text_only", **(env_config or {})}
    env = CrafterEnvironment(CrafterConfig(**settings))
    spec = env.spec()
    policy = ScriptedPolicy(ScriptedPolicyConfig(**(policy_config or {})))

    async def run() -> dict[str, Any]:
        ep_policy = await policy.start_episode(spec, seed)
        episode = env.start(seed)
        obs = episode.reset()
        decisions: list[Decision] = []
        outcomes = []
        unlocked: list[str] = []
        while True:
            shown = strip(copy.deepcopy(obs)) if strip else obs
            decision = await ep_policy.act(shown)
            outcome = episode.step(decision.tool_calls)
            decisions.append(decision)
            outcomes.append(outcome)
            unlocked += outcome.achievements
            obs = outcome.observation
            if outcome.done or (until and until(unlocked)):
                break
        return {
            "spec": spec,
            "decisions": decisions,
            "outcomes": outcomes,
            "unlocked": unlocked,
            "env_steps": outcomes[-1].info["env_steps"],
        }

    return asyncio.run(run())
