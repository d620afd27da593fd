"""Trace databases for the filter tests.

``record_random_eval`` records real Crafter episodes played by the real random policy into a real
SQLite store (the eval runner). ``CraftedTraces`` writes hand-built episodes through the same store
API, each shaped to exercise one filter (statuses, invalid decisions, loops, unlocks), so that a
test can say exactly which steps a filter must remove.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from vlmforge import __version__
from vlmforge.images import PngImage
from vlmforge.trace import (
    Episode,
    EpisodeStatus,
    FunctionCall,
    ImagePart,
    InvalidAction,
    LMCall,
    Message,
    Run,
    Step,
    StepObservation,
    TextPart,
    ToolCall,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "interact_many",
            "description": "Do actions",
            "parameters": {
                "type": "object",
                "properties": {"actions": {"type": "array", "items": {"type": "string"}}},
                "required": ["actions"],
            },
        },
    }
]
SYSTEM = "You play Crafter. Call interact_many."


def png(n: int) -> PngImage:
    """A distinct 8x8 PNG for each ``n``."""
    img = Image.new("RGB", (8, 8), ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return PngImage(buf.getvalue(), 8, 8)


def open_store(path: Path) -> Any:
    from vlmforge.plugins import get_registry

    return get_registry().create("store", "sqlite", {"path": str(path)})


def record_random_eval(path: Path, seeds: list[int], max_steps: int) -> None:
    """Real Crafter + the random policy + sqlite, through the eval runner."""
    from vlmforge.plugins import get_registry
    from vlmforge.runner import EvalRunner, new_id

    registry = get_registry()
    env = registry.create("environment", "crafter", {"max_steps": max_steps})
    policy = registry.create("policy", "random", {"actions_per_call": 2})
    spec = env.spec()
    store = open_store(path)
    run = Run(
        id=new_id(),
        name=f"random-{path.stem}",
        vlmforge_version=__version__,
        env_name="crafter",
        env_config=env.config_dict(),
        policy_name="random",
        policy_config=policy.describe(),
        model=policy.model_name(),
        seeds=seeds,
        tools=spec.tools,
        system_prompt=spec.system_prompt,
        achievements=spec.achievements,
    )
    store.create_run(run)
    runner = EvalRunner(env=env, spec=spec, policy=policy, store=store, run=run, seeds=seeds)
    try:
        asyncio.run(runner.run())
    finally:
        store.close()


class CraftedTraces:
    """Builds episodes step by step and writes them through the store API."""

    def __init__(self, path: Path, run_name: str = "crafted", model: str | None = "tiny-vlm"):
        self.store = open_store(path)
        self.run = Run(
            id=f"run-{run_name}",
            name=run_name,
            vlmforge_version=__version__,
            env_name="crafter",
            policy_name="openai",
            model=model,
            tools=TOOLS,
            system_prompt=SYSTEM,
        )
        self.store.create_run(self.run)

    def episode(
        self,
        eid: str,
        steps: list[dict[str, Any]],
        *,
        seed: int = 0,
        status: EpisodeStatus = EpisodeStatus.done,
    ) -> Episode:
        """``steps``: dicts of make_step keyword arguments."""
        ep = Episode(id=eid, run_id=self.run.id, seed=seed)
        self.store.start_episode(ep)
        for i, kw in enumerate(steps):
            step, images = make_step(eid, i, **kw)
            ep.steps += 1
            ep.env_steps += len(step.actions)
            ep.tool_calls += len(step.tool_calls)
            ep.invalid_decisions += int(step.invalid_decision)
            ep.total_reward += step.reward
            for a in step.achievements:
                if a not in ep.achievements:
                    ep.achievements.append(a)
            self.store.record_step(step, images, ep)
        ep.status = status
        self.store.finish_episode(ep)
        return ep

    def close(self) -> None:
        self.store.close()


def make_step(
    eid: str,
    index: int,
    *,
    frame: int | None = None,
    text: str | None = None,
    action: str = "noop",
    reward: float = 0.0,
    achievements: tuple[str, ...] = (),
    reply: str = "tool",  # tool | text | empty | none
    invalid: str | None = None,
    error: str | None = None,
    parsed: bool = False,
    image: bool = True,
    ground_truth: dict[str, Any] | None = None,
) -> tuple[Step, list[PngImage]]:
    frame = index if frame is None else frame
    img = png(frame)
    obs_text = text if text is not None else f"{eid} step {index}"
    parts: list[Any] = [TextPart(text=obs_text)]
    if image:
        parts.append(ImagePart(sha256=img.sha256))
    prompt = [Message(role="system", content=SYSTEM), Message(role="user", content=parts)]
    call = ToolCall(
        id=f"call_{index}",
        function=FunctionCall(name="interact_many", arguments=json.dumps({"actions": [action]})),
    )
    tool_calls: list[ToolCall] = []
    message: Message | None
    if reply == "tool":
        message, tool_calls = Message(role="assistant", tool_calls=[call]), [call]
    elif reply == "text":
        text_reply = f'<tool_call>{{"name": "interact_many", "arguments": {{"actions": ["{action}"]}}}}</tool_call>'
        message = Message(role="assistant", content=text_reply)
        tool_calls = [call] if parsed else []
    elif reply == "empty":
        message = Message(role="assistant", content="")
    else:
        message = None
    invalids = [InvalidAction(kind=invalid, detail="bad")] if invalid else []  # type: ignore[arg-type]
    lm_call = LMCall(provider="openai", model="tiny-vlm", error=error)
    step = Step(
        episode_id=eid,
        index=index,
        observation=StepObservation(
            text=obs_text, images=[img.sha256] if image else [], ground_truth=ground_truth or {}
        ),
        prompt=prompt,
        reply=message,
        tool_calls=tool_calls,
        parsed_from_text=parsed,
        lm_call=lm_call,
        actions=[action] if not invalids and tool_calls else ["noop"],
        invalid=invalids,
        reward=reward,
        achievements=list(achievements),
        error=error,
    )
    return step, [img] if image else []
