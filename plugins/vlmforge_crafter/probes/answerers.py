"""Two reference answerers of the ``crafter-probes`` environment, as policies.

- ``probe-oracle`` answers from the frame's full ground truth, by a route independent of the
  probe generator: the observer's own ``facing_tile``, ``nearest`` and ``creatures`` fields
  rather than the ``view`` grid the probes are computed from. It must score 100% on every type
  (a check of the generator), and its recorded runs are exact perception-QA rows for training
  (``vlmforge filter`` exports them like any run).
- ``probe-random`` answers uniformly among the question's own choices, seeded per probe: its
  accuracy estimates chance (1 / number of choices).

Neither looks at the expected answer; both record the prompt a model would have been shown.
"""

from __future__ import annotations

import json
import random
from typing import Any

from pydantic import Field

from vlmforge.components import Decision, EnvSpec, FatalPolicyError, Observation
from vlmforge.config import StrictModel
from vlmforge.prompting import build_prompt
from vlmforge.trace import FunctionCall, Message, ToolCall
from vlmforge_crafter.probes.catalog import (
    COUNTS,
    DISTANCES,
    ZOMBIE_NEAR,
    capped,
    day_or_night,
    direction,
)
from vlmforge_crafter.probes.env import ANSWER_ARG, ANSWER_TOOL, ENV_NAME


class AnswererConfig(StrictModel):
    seed_offset: int = Field(0, description="probe-random: added to the probe's seed.")
    use_vision: bool = Field(True, description="Record image parts in the prompt.")


def oracle_answer(type_id: str, gt: dict[str, Any]) -> str:
    """The answer to probe type ``type_id`` from a crafter ground-truth dict's own fields."""
    family, _, subject = type_id.partition("/")
    if family == "front":
        return str(gt["facing_tile"])
    if family in ("nearest_direction", "nearest_distance"):
        found = gt["nearest"].get(subject)
        if found is None:
            return "none"
        if family == "nearest_direction":
            return direction(*found["offset"])
        return capped(int(found["distance"]), DISTANCES)
    creatures = gt["creatures"]
    if family == "zombie_within_3":
        near = [c for c in creatures if c["kind"] == "zombie" and c["distance"] <= ZOMBIE_NEAR]
        return "yes" if near else "no"
    if family == "cow_count":
        return capped(sum(1 for c in creatures if c["kind"] == "cow"), COUNTS)
    if family == "inventory":
        return str(gt["inventory"].get(subject, 0))
    if family in ("health", "food", "drink", "energy"):
        return str(gt["inventory"][family])
    if family == "daylight":
        from vlmforge_crafter.ground_truth import player_view

        return day_or_night(player_view(gt))
    raise KeyError(f"the oracle has no rule for probe type '{type_id}'")


def _probe(observation: Observation) -> dict[str, Any]:
    probe = observation.ground_truth.get("probe")
    if not isinstance(probe, dict):
        raise FatalPolicyError(
            f"the probe answerers play --env {ENV_NAME} only: this observation has no probe"
        )
    return probe


class AnswererEpisode:
    def __init__(self, spec: EnvSpec, mode: str, rng: random.Random, config: AnswererConfig):
        self.spec, self.mode, self.rng, self.config = spec, mode, rng, config
        self.calls = 0

    async def act(self, observation: Observation) -> Decision:
        probe = _probe(observation)
        if self.mode == "oracle":
            given = oracle_answer(str(probe["type"]), observation.ground_truth["frame"])
        else:
            given = self.rng.choice(list(probe["choices"]))
        prompt = build_prompt(self.spec, observation, use_vision=self.config.use_vision)
        self.calls += 1
        call = ToolCall(
            id=f"call_{self.calls}",
            function=FunctionCall(name=ANSWER_TOOL, arguments=json.dumps({ANSWER_ARG: given})),
        )
        reply = Message(role="assistant", content=None, tool_calls=[call])
        return Decision(prompt=prompt, reply=reply, tool_calls=[call])


class _Answerer:
    mode = ""
    config_model = AnswererConfig

    def __init__(self, config: AnswererConfig):
        self.config = config

    async def start_episode(self, env: EnvSpec, seed: int) -> AnswererEpisode:
        if env.name != ENV_NAME:
            raise FatalPolicyError(
                f"policy probe-{self.mode} answers --env {ENV_NAME} probes, not '{env.name}'"
            )
        rng = random.Random(f"probe-random:{seed + self.config.seed_offset}")
        return AnswererEpisode(env, self.mode, rng, self.config)

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.config.model_dump()}

    def model_name(self) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


class OracleAnswerer(_Answerer):
    """``--policy probe-oracle``: the exact answers, from the ground truth."""

    mode = "oracle"


class RandomAnswerer(_Answerer):
    """``--policy probe-random``: a uniform draw among the question's choices."""

    mode = "random"
