"""The environment with the core's own parts: CLI listing, random policy, prompts, trace model."""

from __future__ import annotations

import asyncio
import json

from tests.crafter.helpers import make_env
from vlmforge import plugins
from vlmforge.prompting import to_openai
from vlmforge.trace import Step, StepObservation


def test_cli_lists_the_environment(cli):
    result = cli("plugins")
    assert result.returncode == 0, result.stderr
    assert "environment: crafter" in result.stdout


def test_random_policy_episode_records_as_trace_steps():
    env = make_env(max_steps=40, frame_history=1)
    spec = env.spec()
    policy = plugins.get_registry().create("policy", "random", {"actions_per_call": 3})

    async def play() -> list[Step]:
        agent = await policy.start_episode(spec, 9)
        episode = env.start(9)
        obs = episode.reset()
        steps: list[Step] = []
        while True:
            decision = await agent.act(obs)
            out = episode.step(decision.tool_calls)
            steps.append(
                Step(
                    episode_id="e1",
                    index=len(steps),
                    observation=StepObservation(
                        text=obs.text,
                        images=[i.sha256 for i in obs.images],
                        ground_truth=obs.ground_truth,
                        feedback=obs.feedback,
                    ),
                    prompt=decision.prompt,
                    reply=decision.reply,
                    tool_calls=decision.tool_calls,
                    actions=out.actions,
                    invalid=out.invalid,
                    reward=out.reward,
                    achievements=out.achievements,
                    done=out.done,
                    truncated=out.truncated,
                    termination=out.termination,
                    info=out.info,
                )
            )
            if len(steps) == 1:  # the prompt a model would get: system, text, frame as data URL
                images = {i.sha256: i for i in obs.images}
                wire = to_openai(decision.prompt, images)
                assert wire[0]["role"] == "system" and "Crafter" in wire[0]["content"]
                parts = wire[-1]["content"]
                assert parts[0]["type"] == "text" and parts[0]["text"].startswith("Step 0/40.")
                assert parts[-1]["image_url"]["url"].startswith("data:image/png;base64,")
            obs = out.observation
            if out.done:
                return steps

    steps = asyncio.run(play())
    assert steps[-1].termination in {"max_steps", "death"}
    assert sum(len(s.actions) for s in steps) == steps[-1].info["env_steps"] <= 40
    assert all(not s.invalid for s in steps)
    # the stored step round-trips through JSON, ground truth included
    again = Step.model_validate_json(steps[-1].model_dump_json())
    assert again.observation.ground_truth == steps[-1].observation.ground_truth
    assert json.loads(json.dumps(steps[-1].observation.ground_truth))["view"][3][4] == "player"
