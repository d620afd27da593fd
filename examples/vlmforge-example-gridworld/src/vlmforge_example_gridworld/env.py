"""``gridworld``: the agent (A) walks to the goal (G) on a ``size`` x ``size`` grid.

What a third-party environment needs from vlmforge, and nothing else:

- ``vlmforge.config.StrictModel`` for its settings (unknown keys are errors);
- ``vlmforge.components``: ``EnvSpec`` (tools, system prompt, actions), ``Observation`` and
  ``StepOutcome``;
- ``vlmforge.decisions.parse_action_calls``: tool calls -> actions for enum-of-actions tools,
  strictly (invalid decisions are recorded, never guessed at), and ``feedback_message``;
- ``vlmforge.images.encode_png``: a frame as a PNG the store keeps once by hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.config import StrictModel
from vlmforge.decisions import feedback_message, parse_action_calls
from vlmforge.images import PngImage, encode_png
from vlmforge.trace import ToolCall

ACTIONS = ("up", "down", "left", "right")
MOVES = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
FALLBACK = "up"


class GridWorldConfig(StrictModel):
    """``[env]`` settings for ``name = "gridworld"``."""

    size: int = Field(5, ge=2, le=32, description="Grid width and height in cells.")
    max_steps: int = Field(30, ge=1, description="Moves before the episode is truncated.")
    max_actions_per_call: int = Field(3, ge=1, le=8, description="Moves one `walk` call may hold.")
    cell_pixels: int = Field(8, ge=1, le=64, description="Frame pixels per grid cell.")


def tool_schemas(max_actions: int) -> list[dict[str, Any]]:
    """Two enum-of-actions tools, the shapes the core parser understands."""
    return [
        {
            "type": "function",
            "function": {
                "name": "walk",
                "description": f"Move 1 to {max_actions} cells, in order.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "moves": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(ACTIONS)},
                            "minItems": 1,
                            "maxItems": max_actions,
                        }
                    },
                    "required": ["moves"],
                    "additionalProperties": False,
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "step",
                "description": "Move one cell.",
                "parameters": {
                    "type": "object",
                    "properties": {"move": {"type": "string", "enum": list(ACTIONS)}},
                    "required": ["move"],
                    "additionalProperties": False,
                },
            },
        },
    ]


class GridWorld:
    """The environment: builds one :class:`GridEpisode` per seed."""

    config_model: ClassVar[type[GridWorldConfig]] = GridWorldConfig

    def __init__(self, config: GridWorldConfig):
        self.config = config
        self.tools = tool_schemas(config.max_actions_per_call)

    def spec(self) -> EnvSpec:
        return EnvSpec(
            name="gridworld",
            tools=self.tools,
            system_prompt="You are A on a grid. Reach G. Call walk or step.",
            action_names=list(ACTIONS),
            max_actions_per_call=self.config.max_actions_per_call,
            max_steps=self.config.max_steps,
            achievements=["reach_goal"],
            fallback_action=FALLBACK,
        )

    def start(self, seed: int) -> GridEpisode:
        return GridEpisode(self, seed)

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def close(self) -> None:
        return None


class GridEpisode:
    """One episode: the seed places the agent and the goal."""

    def __init__(self, env: GridWorld, seed: int):
        self.env, self.config = env, env.config
        rng = np.random.default_rng(seed)
        n = self.config.size
        cells = rng.choice(n * n, size=2, replace=False)
        self.agent = (int(cells[0]) % n, int(cells[0]) // n)
        self.goal = (int(cells[1]) % n, int(cells[1]) // n)
        self.moves = 0

    def reset(self) -> Observation:
        return self._observe(feedback=None)

    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        parsed = parse_action_calls(
            tool_calls, self.env.tools, max_actions=self.config.max_actions_per_call
        )
        executed: list[str] = []
        reached = False
        for action in parsed.actions or [FALLBACK]:
            dx, dy = MOVES[action]
            n = self.config.size
            self.agent = (
                min(max(self.agent[0] + dx, 0), n - 1),
                min(max(self.agent[1] + dy, 0), n - 1),
            )
            self.moves += 1
            executed.append(action)
            if self.agent == self.goal:
                reached = True
                break
            if self.moves >= self.config.max_steps:
                break
        truncated = not reached and self.moves >= self.config.max_steps
        feedback = None
        if parsed.invalid:
            feedback = feedback_message(parsed.invalid, FALLBACK, parsed.rejected, ACTIONS)
        return StepOutcome(
            observation=self._observe(feedback),
            reward=1.0 if reached else 0.0,
            actions=executed,
            invalid=parsed.invalid,
            achievements=["reach_goal"] if reached else [],
            done=reached or truncated,
            truncated=truncated,
            termination="goal" if reached else "max_steps" if truncated else None,
        )

    def close(self) -> None:
        return None

    def _observe(self, feedback: str | None) -> Observation:
        return Observation(
            text=f"You are at {self.agent}; the goal is at {self.goal}.",
            images=[self._frame()],
            ground_truth={"agent": list(self.agent), "goal": list(self.goal)},
            feedback=feedback,
        )

    def _frame(self) -> PngImage:
        n, px = self.config.size, self.config.cell_pixels
        grid = np.full((n, n, 3), 230, dtype=np.uint8)
        grid[self.goal[1], self.goal[0]] = (40, 170, 60)
        grid[self.agent[1], self.agent[0]] = (200, 40, 40)
        return encode_png(np.kron(grid, np.ones((px, px, 1), dtype=np.uint8)))
