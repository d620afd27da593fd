"""Drive an environment with the real random policy and record what a trace would hold."""

from __future__ import annotations

import asyncio
from typing import Any

from vlmforge.components import Environment, Observation
from vlmforge_random.policy import RandomPolicy, RandomPolicyConfig


def observed(obs: Observation) -> dict[str, Any]:
    return {
        "text": obs.text,
        "images": [img.sha256 for img in obs.images],
        "sizes": [(img.width, img.height) for img in obs.images],
        "ground_truth": obs.ground_truth,
        "feedback": obs.feedback,
    }


def rollout(env: Environment, seed: int, steps: int) -> dict[str, Any]:
    """Up to ``steps`` decisions of the random policy on ``seed``; everything a step records."""
    policy = RandomPolicy(RandomPolicyConfig())
    spec = env.spec()
    episode_policy = asyncio.run(policy.start_episode(spec, seed))
    episode = env.start(seed)
    try:
        obs = episode.reset()
        record: dict[str, Any] = {"first": observed(obs), "steps": []}
        for _ in range(steps):
            decision = asyncio.run(episode_policy.act(obs))
            out = episode.step(decision.tool_calls)
            obs = out.observation
            record["steps"].append(
                {
                    "prompt": [m.model_dump() for m in decision.prompt],
                    "obs": observed(obs),
                    "reward": out.reward,
                    "actions": out.actions,
                    "invalid": [i.model_dump() for i in out.invalid],
                    "achievements": out.achievements,
                    "done": out.done,
                    "truncated": out.truncated,
                    "termination": out.termination,
                    "info": out.info,
                }
            )
            if out.done:
                break
        record["server"] = getattr(getattr(episode, "server", None), "url", None)
        return record
    finally:
        episode.close()
