"""The ``scripted`` policy: wraps the rule-based planner as a vlmforge Policy.

It decides from ``Observation.ground_truth``'s player-visible fields only (the 9x7 view,
inventory and vitals, achievements, position/facing, sleeping, daylight) plus its own memory of
the tiles it has seen. Each decision is recorded like a model's: the prompt a model would have
been shown, an assistant reply whose text is the rationale, and one ``interact_many`` call.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from vlmforge.components import Decision, EnvSpec, Observation, PolicyError
from vlmforge.config import StrictModel
from vlmforge.prompting import build_prompt
from vlmforge.trace import FunctionCall, Message, ToolCall
from vlmforge_crafter.teacher.planner import Planner

#: The ground-truth fields the agent reads: what a player sees on screen. Nothing else.
VISIBLE_FIELDS: tuple[str, ...] = (
    "step",
    "position",
    "facing",
    "inventory",
    "achievements",
    "sleeping",
    "daylight",
    "view",
)


class ScriptedPolicyConfig(StrictModel):
    """``[policy]`` settings for ``--policy scripted``."""

    actions_per_call: int = Field(
        8, ge=1, le=64, description="Most actions per call (capped by the env's own limit)."
    )
    seed_offset: int = Field(0, description="Added to the episode seed for the agent's RNG.")
    use_vision: bool = Field(True, description="Record the frames in the recorded prompt.")
    rationale: bool = Field(True, description="Write the rationale as the reply's text.")


def visible(ground_truth: dict[str, Any]) -> dict[str, Any]:
    """The player-visible part of a Crafter ground-truth dict (raises if a field is missing)."""
    missing = [k for k in VISIBLE_FIELDS if k not in ground_truth and k != "step"]
    if missing:
        raise PolicyError(
            "the scripted policy needs Crafter observations with ground truth fields "
            f"{', '.join(missing)} (is --env crafter?)"
        )
    return {k: ground_truth[k] for k in VISIBLE_FIELDS if k in ground_truth}


class ScriptedEpisodePolicy:
    """One episode: the planner's memory lives here."""

    def __init__(self, env: EnvSpec, seed: int, config: ScriptedPolicyConfig):
        names = [t.get("function", {}).get("name") for t in env.tools]
        if "interact_many" not in names:
            raise PolicyError(
                f"the scripted policy needs an environment with an 'interact_many' tool; "
                f"'{env.name}' offers {', '.join(str(n) for n in names) or 'none'}"
            )
        self.env, self.config = env, config
        self.per_call = max(1, min(config.actions_per_call, env.max_actions_per_call))
        self.planner = Planner(seed + config.seed_offset, self.per_call)
        self.calls = 0

    async def act(self, observation: Observation) -> Decision:
        prompt = build_prompt(self.env, observation, use_vision=self.config.use_vision)
        actions, why = self.planner.decide(visible(observation.ground_truth))
        actions = [a for a in actions if a in self.env.action_names][: self.per_call] or ["noop"]
        self.calls += 1
        call = ToolCall(
            id=f"call_{self.calls}",
            function=FunctionCall(name="interact_many", arguments=json.dumps({"actions": actions})),
        )
        reply = Message(
            role="assistant", content=why if self.config.rationale else None, tool_calls=[call]
        )
        return Decision(prompt=prompt, reply=reply, tool_calls=[call])


class ScriptedPolicy:
    """``--policy scripted``."""

    config_model = ScriptedPolicyConfig

    def __init__(self, config: ScriptedPolicyConfig | None = None):
        self.config = config or ScriptedPolicyConfig()

    async def start_episode(self, env: EnvSpec, seed: int) -> ScriptedEpisodePolicy:
        return ScriptedEpisodePolicy(env, seed, self.config)

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump()

    def model_name(self) -> str | None:
        return None

    async def aclose(self) -> None:
        return None
