"""``--env waiting``: every step sleeps, then the episode ends after a fixed number of steps.

Settings come from the environment variables of the process that serves it (a test or a
benchmark starts that process):

- ``WAITING_STEP_S``: seconds per step (default 0.05);
- ``WAITING_STEPS``: steps per episode (default 60);
- ``WAITING_LOG``: if set, a file that gets one line per step: how many steps were in flight in
  this process when it began (the test of the runner's concurrency reads it).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.hookspecs import hookimpl
from vlmforge.trace import ToolCall

TOOL = {
    "type": "function",
    "function": {
        "name": "interact",
        "parameters": {
            "type": "object",
            "properties": {"action": {"type": "string"}},
            "required": ["action"],
        },
    },
}
_lock = threading.Lock()
_in_flight = 0


class WaitingEpisode:
    def __init__(self, step_s: float, steps: int, log: str | None):
        self.step_s, self.steps, self.log = step_s, steps, log
        self.t = 0

    def reset(self) -> Observation:
        return Observation(text="t 0")

    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        global _in_flight
        with _lock:
            _in_flight += 1
            if self.log:
                with open(self.log, "a", encoding="ascii") as fh:
                    fh.write(f"{_in_flight}\n")
        try:
            time.sleep(self.step_s)
        finally:
            with _lock:
                _in_flight -= 1
        self.t += 1
        done = self.t >= self.steps
        return StepOutcome(
            Observation(text=f"t {self.t}"),
            reward=0.0,
            actions=["wait"],
            done=done,
            termination="time_limit" if done else None,
        )

    def close(self) -> None:
        pass


class WaitingEnvironment:
    config_model = None

    def __init__(self) -> None:
        self.step_s = float(os.environ.get("WAITING_STEP_S", "0.05"))
        self.steps = int(os.environ.get("WAITING_STEPS", "60"))
        self.log = os.environ.get("WAITING_LOG") or None

    def spec(self) -> EnvSpec:
        return EnvSpec(name="waiting", tools=[TOOL], system_prompt="Wait.", action_names=["wait"])

    def start(self, seed: int) -> WaitingEpisode:
        return WaitingEpisode(self.step_s, self.steps, self.log)

    def config_dict(self) -> dict[str, Any]:
        return {"step_s": self.step_s, "steps": self.steps}


@hookimpl
def register_environments(register: Any) -> None:
    register("waiting", WaitingEnvironment, description="steps that only wait (tests, benchmarks)")
