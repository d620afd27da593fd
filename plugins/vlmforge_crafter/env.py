"""The ``crafter`` environment: one fresh, deterministic ``crafter.Env`` per episode.

Units: a trace step is one *decision* (one list of tool calls), which executes up to
``max_actions_per_call`` primitive Crafter actions. ``max_steps`` and the step counter in
observations count primitive actions (Crafter's own unit), reported as ``info["env_steps"]``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import crafter

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.errors import VlmforgeError
from vlmforge.images import PngImage, encode_png
from vlmforge.trace import ToolCall
from vlmforge_crafter.actions import feedback_message, parse_tool_calls, tool_schemas
from vlmforge_crafter.config import ACTION_NAMES, CrafterConfig
from vlmforge_crafter.games import Games
from vlmforge_crafter.observe import Observer
from vlmforge_crafter.prompt import system_prompt

ACHIEVEMENTS: tuple[str, ...] = tuple(crafter.constants.achievements)
_ACTION_INDEX = {name: i for i, name in enumerate(ACTION_NAMES)}
if tuple(crafter.constants.actions) != ACTION_NAMES:  # the tool schemas list them by name
    raise ImportError(
        "this crafter version orders its actions differently from vlmforge_crafter's "
        f"{ACTION_NAMES}; install crafter 1.8.x"
    )


class EpisodeOverError(VlmforgeError):
    """``step`` was called on an episode that has already ended."""


class CrafterEpisode:
    """One Crafter episode for one seed (the same seed always gives the same world)."""

    def __init__(self, config: CrafterConfig, seed: int, observer: Observer, games: Games):
        self.config, self.seed, self.observer = config, int(seed), observer
        self._games = games
        self.env: Any = None
        self.env_steps = 0
        self.done = False
        self.unlocked: list[str] = []
        self._history: deque[PngImage] = deque(maxlen=config.frame_history)
        self._previous: PngImage | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def reset(self) -> Observation:
        """Build a fresh world for this seed and return the first observation."""
        self.env = self._games.new(self.seed)
        frame = self.env.reset()
        self.env_steps, self.done, self.unlocked = 0, False, []
        self._history.clear()
        self._previous = None
        return self._observe(frame, feedback=None)

    def close(self) -> None:
        self.env = None

    # -- stepping ------------------------------------------------------------------------------
    def step(self, tool_calls: Sequence[ToolCall]) -> StepOutcome:
        """Execute the decision's first tool call, or the fallback once if it is invalid."""
        if self.env is None:
            raise EpisodeOverError("call reset() before step() on a crafter episode")
        if self.done:
            raise EpisodeOverError(f"crafter episode (seed {self.seed}) has ended; start a new one")
        cfg = self.config
        parsed = parse_tool_calls(tool_calls, cfg.max_actions_per_call)
        planned = parsed.actions or [cfg.fallback_action]
        env, player = self.env, self.env._player
        reward, executed, new = 0.0, [], []
        termination: str | None = None
        frame = None
        for action in planned:
            known = len(env._unlocked)
            frame, r, game_over, _info = env.step(_ACTION_INDEX[action])
            self.env_steps += 1
            executed.append(action)
            reward += float(r)
            if len(env._unlocked) != known:
                fresh = sorted(env._unlocked.difference(self.unlocked))
                new.extend(fresh)
                self.unlocked.extend(fresh)
            if player.health <= 0:
                termination = "death"
            elif game_over:
                termination = "game_length"
            elif self.env_steps >= cfg.max_steps:
                termination = "max_steps"
            if termination:
                break
        self.done = termination is not None
        feedback = None
        if parsed.invalid:
            feedback = feedback_message(parsed.invalid, cfg.fallback_action, parsed.rejected)
        observation = self._observe(frame, feedback=feedback)
        return StepOutcome(
            observation=observation,
            reward=reward,
            actions=executed,
            invalid=parsed.invalid,
            achievements=new,
            done=self.done,
            truncated=termination == "max_steps",
            termination=termination,
            info={
                "env_steps": self.env_steps,
                "requested_actions": len(parsed.actions),
                "fallback": parsed.rejected,
                "health": int(player.health),
            },
        )

    # -- observations --------------------------------------------------------------------------
    def _observe(self, frame: Any, feedback: str | None) -> Observation:
        cfg = self.config
        gt = self.observer.ground_truth(self.env, self.unlocked, self.env_steps)
        images: list[PngImage] = []
        if cfg.images:
            current = encode_png(frame, compress_level=cfg.png_compress_level)
            if self._previous is not None and cfg.frame_history:
                self._history.append(self._previous)
            images = [*self._history, current]
            self._previous = current
        text = self.observer.text(gt) if cfg.text else None
        return Observation(text=text, images=images, ground_truth=dict(gt), feedback=feedback)


class CrafterEnvironment:
    """``--env crafter``: Crafter with text + PNG observations and tool-call actions."""

    config_model = CrafterConfig
    reset_ahead = True  # a world depends on its seed alone: env workers may build it early

    def __init__(self, config: CrafterConfig | None = None):
        self.config = config or CrafterConfig()
        self._games = Games(self.config)

    def spec(self) -> EnvSpec:
        cfg = self.config
        return EnvSpec(
            name="crafter",
            tools=tool_schemas(cfg.max_actions_per_call),
            system_prompt=system_prompt(cfg),
            action_names=list(ACTION_NAMES),
            max_actions_per_call=cfg.max_actions_per_call,
            max_steps=cfg.max_steps,
            achievements=list(ACHIEVEMENTS),
            fallback_action=cfg.fallback_action,
        )

    def start(self, seed: int) -> CrafterEpisode:
        """A new episode; call ``reset()`` on it for the first observation."""
        return CrafterEpisode(self.config, seed, Observer(self.config), self._games)

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def close(self) -> None:
        """Nothing to release: each episode's game is closed with the episode."""
