"""The random policy: uniform over the environment's actions, deterministic per seed."""

from __future__ import annotations

import json
import random
from typing import Any

from pydantic import Field

from vlmforge.components import Decision, EnvSpec, FatalPolicyError, Observation
from vlmforge.config import StrictModel
from vlmforge.decisions import action_tools
from vlmforge.prompting import build_prompt
from vlmforge.trace import FunctionCall, Message, ToolCall


class RandomPolicyConfig(StrictModel):
    actions_per_call: int = Field(1, ge=1, le=64, description="Actions per tool call.")
    seed_offset: int = Field(0, description="Added to the episode seed for the RNG.")
    use_vision: bool = Field(True, description="Record image parts in the prompt.")


class RandomEpisodePolicy:
    def __init__(self, env: EnvSpec, rng: random.Random, config: RandomPolicyConfig):
        self.env, self.rng, self.config = env, rng, config
        self.calls = 0
        self.tool_name = _pick_tool(env)
        self.tool = next((t for t in action_tools(env.tools) if t.name == self.tool_name), None)
        self.per_call = min(config.actions_per_call, max(1, env.max_actions_per_call))

    async def act(self, observation: Observation) -> Decision:
        prompt = build_prompt(self.env, observation, use_vision=self.config.use_vision)
        actions = [self.rng.choice(self.env.action_names) for _ in range(self.per_call)]
        self.calls += 1
        arguments: dict[str, Any]
        if self.tool is not None:  # an enum-of-actions tool: its own argument name and shape
            arguments = self.tool.arguments(actions if self.tool.many else actions[:1])
        elif self.tool_name == "interact":
            arguments = {"action": actions[0]}
        else:
            arguments = {"actions": actions}
        call = ToolCall(
            id=f"call_{self.calls}",
            function=FunctionCall(name=self.tool_name, arguments=json.dumps(arguments)),
        )
        reply = Message(role="assistant", content=None, tool_calls=[call])
        return Decision(prompt=prompt, reply=reply, tool_calls=[call])


def _pick_tool(env: EnvSpec) -> str:
    names = [t.get("function", {}).get("name") for t in env.tools]
    if env.max_actions_per_call > 1 and "interact_many" in names:
        return "interact_many"
    if "interact" in names:
        return "interact"
    found = action_tools(env.tools)  # another environment's enum-of-actions tools
    many = [t.name for t in found if t.many]
    if env.max_actions_per_call > 1 and many:
        return many[0]
    if found:
        return next((t.name for t in found if not t.many), found[0].name)
    if names and names[0]:
        return str(names[0])
    raise FatalPolicyError(
        f"environment '{env.name}' exposes no tools, so the random policy has nothing to call"
    )


class RandomPolicy:
    """``--policy random``."""

    config_model = RandomPolicyConfig

    def __init__(self, config: RandomPolicyConfig):
        self.config = config

    async def start_episode(self, env: EnvSpec, seed: int) -> RandomEpisodePolicy:
        return RandomEpisodePolicy(env, random.Random(seed + self.config.seed_offset), self.config)

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump()

    def model_name(self) -> str | None:
        return None

    async def aclose(self) -> None:
        return None
