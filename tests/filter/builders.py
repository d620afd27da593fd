"""Trace databases for the filter tests.

``record_random_eval`` records real Crafter episodes played by the real random policy into a real
SQLite store (the eval runner). ``CraftedTraces`` writes hand-built episodes through the same store
API, each shaped to exercise one filter (statuses, invalid decisions, loops, unlocks), so that a
test can say exactly which steps a filter must remove.
"""

from __future__ import annotations

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


def record_random_eval(path: Path, seeds: str, max_steps: int) -> None:
    """``vlmforge eval``: real Crafter + the random policy + sqlite, in a subprocess."""
    from tests.conftest import run_cli

    result = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", seeds,
        "--max-steps", str(max_steps), "--trace-db", str(path), "--run-name", "random",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def llm_reply(n: int) -> Any:
    """The loopback model's answer to its n-th request: a fixed cycle of six behaviours
    (step index % 6 with one episode in flight), and an HTTP 500 on request 28."""
    from vlmforge.testing.openai_server import Reply

    if n == 28:
        return Reply.server_error(500)
    return [
        lambda: Reply.tool_call("interact_many", {"actions": ["move_left"]}),
        lambda: Reply.qwen_tool_call("interact_many", {"actions": ["do"]}),
        lambda: Reply.text("I am not sure what to do."),
        lambda: Reply.tool_call("interact_many", "{not json"),
        lambda: Reply.tool_call("interact_many", {"actions": ["fly"]}),
        lambda: Reply.tool_call("interact_many", {"actions": ["noop"]}),
    ][n % 6]()


def record_llm_eval(path: Path) -> None:
    """``vlmforge eval`` with the real openai policy against a loopback OpenAI-protocol server:
    seeds 0-2, 12 decisions each; seed 2 fails at its 5th decision (HTTP 500, no retries)."""
    import itertools
    import threading

    from tests.conftest import run_cli
    from vlmforge.testing.openai_server import OpenAIServer

    counter, lock = itertools.count(), threading.Lock()

    def respond(request: Any) -> Any:
        with lock:
            n = next(counter)
        return llm_reply(n)

    with OpenAIServer(respond) as server:
        config = path.with_suffix(".toml")
        config.write_text(
            f"""run_name = "llm"
seeds = "0-2"
max_steps = 12
[env]
name = "crafter"
max_actions_per_call = 4
[policy]
name = "openai"
model = "test-model"
base_url = "{server.base_url}"
api_key_env = "VLMFORGE_TEST_OPENAI_KEY"
max_retries = 0
use_vision = true
[store]
name = "sqlite"
path = "{path}"
"""
        )
        result = run_cli(
            "eval", "--config", str(config), env={"VLMFORGE_TEST_OPENAI_KEY": "sk-test-secret-42"}
        )
    assert result.returncode == 0, result.stderr


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
            ep.add_step(step)
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
    reply: str = "tool",  # tool | said (text, then the tool call) | text | empty | none
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
    elif reply == "said":
        said = f"I see {obs_text}; next: {action}."
        message, tool_calls = Message(role="assistant", content=said, tool_calls=[call]), [call]
    elif reply == "text":
        payload = json.dumps({"name": "interact_many", "arguments": {"actions": [action]}})
        text_reply = f"<tool_call>{payload}</tool_call>"
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
