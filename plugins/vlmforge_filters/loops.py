"""Loop detection: repeated actions, unchanged states, too few distinct states."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from typing import Literal

from pydantic import Field, model_validator

from vlmforge.components import EpisodeTrace
from vlmforge.config import StrictModel
from vlmforge.trace import Step


class LoopsConfig(StrictModel):
    max_repeated_actions: int | None = Field(
        8,
        ge=1,
        description="A run of more than this many consecutive steps executing the same "
        "actions is a loop (null: off).",
    )
    max_unchanged_steps: int | None = Field(
        None,
        ge=1,
        description="A run of more than this many consecutive steps observing the same state "
        "is a loop (null: off).",
    )
    state: Literal["frame", "ground_truth"] = Field(
        "frame",
        description="frame: the sha256 of the newest observation image (the text observation "
        "when a step has no image); ground_truth: the observation's ground truth (minus "
        "ignore_keys).",
    )
    ignore_keys: list[str] = Field(
        default_factory=list,
        description="Ground-truth keys left out of the state (e.g. a step counter).",
    )
    min_unique_states: int | None = Field(
        None, ge=1, description="Drop episodes with fewer distinct states (null: off)."
    )
    mode: Literal["drop", "trim"] = Field(
        "drop",
        description="drop: drop a looping episode; trim: drop only the steps past the limit.",
    )

    @model_validator(mode="after")
    def _check(self) -> LoopsConfig:
        if (
            self.max_repeated_actions is None
            and self.max_unchanged_steps is None
            and self.min_unique_states is None
        ):
            raise ValueError(
                "loops needs max_repeated_actions, max_unchanged_steps or min_unique_states"
            )
        return self


def action_key(step: Step) -> Hashable:
    """The primitive actions executed (the tool calls when none were recorded)."""
    if step.actions:
        return tuple(step.actions)
    return tuple((c.function.name, c.function.arguments) for c in step.tool_calls)


def _excess(keys: list[Hashable], limit: int) -> list[bool]:
    """True for each step beyond the first ``limit`` of a run of equal consecutive keys."""
    out, run = [], 0
    for i, key in enumerate(keys):
        run = run + 1 if i > 0 and key == keys[i - 1] else 1
        out.append(run > limit)
    return out


class Loops:
    """Episodes (or steps) stuck in a loop."""

    config_model = LoopsConfig

    def __init__(self, config: LoopsConfig):
        self.c = config
        self.state_key: Callable[[Step], Hashable] = (
            self._frame if config.state == "frame" else self._ground_truth
        )

    @staticmethod
    def _frame(step: Step) -> Hashable:
        images = step.observation.images
        return images[-1] if images else ("text", step.observation.text)

    def _ground_truth(self, step: Step) -> Hashable:
        gt = {k: v for k, v in step.observation.ground_truth.items() if k not in self.c.ignore_keys}
        blob = json.dumps(gt, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        steps = item.steps
        states = [self.state_key(s) for s in steps]
        if self.c.min_unique_states is not None and len(set(states)) < self.c.min_unique_states:
            return None
        excess = [False] * len(steps)
        if self.c.max_repeated_actions is not None:
            over = _excess([action_key(s) for s in steps], self.c.max_repeated_actions)
            excess = [a or b for a, b in zip(excess, over, strict=True)]
        if self.c.max_unchanged_steps is not None:
            over = _excess(states, self.c.max_unchanged_steps)
            excess = [a or b for a, b in zip(excess, over, strict=True)]
        if not any(excess):
            return item
        if self.c.mode == "drop":
            return None
        kept = [s for s, bad in zip(steps, excess, strict=True) if not bad]
        return EpisodeTrace(run=item.run, episode=item.episode, steps=kept)
