"""The ``scripted`` policy: wraps the rule-based planner as a vlmforge Policy.

It decides from ``Observation.ground_truth``'s player-visible fields only, parsed into a
:class:`~vlmforge_crafter.ground_truth.PlayerView` (the 9x7 view, inventory and vitals,
achievements, position/facing, sleeping, daylight), plus its own memory of the tiles it has seen.
Each decision is recorded like a model's: the prompt a model would have been shown, an
assistant reply whose text is the rationale, and one ``interact_many`` call.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from vlmforge.components import Decision, EnvSpec, Observation, PolicyError
from vlmforge.config import StrictModel
from vlmforge.prompting import build_prompt
from vlmforge.trace import FunctionCall, Message, ToolCall
from vlmforge_crafter.ground_truth import (
    VISIBLE_FIELDS,
    MissingFieldsError,
    PlayerView,
    player_view,
)
from vlmforge_crafter.teacher.planner import Planner

__all__ = ["VISIBLE_FIELDS", "ScriptedPolicy", "ScriptedPolicyConfig", "visible"]


class ScriptedPolicyConfig(StrictModel):
    """``[policy]`` settings for ``--policy scripted``."""

    actions_per_call: int = Field(
        default=8, ge=1, le=64, description="Most actions per call (capped by the env's own limit)."
    )
    seed_offset: int = Field(
        default=0, description="Added to the episode seed for the agent's RNG."
    )
    use_vision: bool = Field(default=True, description="Record the frames in the recorded prompt.")
    rationale: bool = Field(default=True, description="Write the rationale as the reply's text.")


def visible(ground_truth: dict[str, Any]) -> PlayerView:
    """The player-visible part of a Crafter ground-truth dict (raises if a field is missing)."""
    try:
        return player_view(ground_truth)
    except MissingFieldsError as exc:
        raise PolicyError(
            "the scripted policy needs Crafter observations with ground truth fields "
            f"{', '.join(exc.fields)} (is --env crafter?)"
        ) from None


class ScriptedEpisodePolicy:
    """One episode: the planner's memory lives here."""

    def __init__(self, env: EnvSpec, seed: int, config: ScriptedPolicyConfig) -> None:
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

    def __init__(self, config: ScriptedPolicyConfig | None = None) -> None:
        self.config = config or ScriptedPolicyConfig()

    async def start_episode(self, env: EnvSpec, seed: int) -> ScriptedEpisodePolicy:
        return ScriptedEpisodePolicy(env, seed, self.config)

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump()

    def model_name(self) -> str | None:
        return None

    async def aclose(self) -> None:
        return None
