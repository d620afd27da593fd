"""SFT examples built from kept steps: one per decision step, or multi-turn episodes.

An :class:`Example` keeps messages in the trace's own form (images as ``ImagePart(sha256)``) and a
resolver for the PNG bytes; exporters turn it into their file format.

Length measure (``max_sequence_length``): approximate tokens =
``ceil(text characters / chars_per_token) + image_tokens * images``, where text characters are all
text parts and string contents plus each tool call's name and argument string. Examples are only
ever cut between whole messages, never inside a message, so never inside an image.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from vlmforge.components import EpisodeTrace
from vlmforge.dataset.config import RowsConfig
from vlmforge.trace import Message, Step, ToolCall


@dataclass
class Example:
    """One training example, exporter-neutral.

    ``mode``: the ``[rows] mode`` that built it: ``"step"`` (a prompt, possibly with history
    turns, and the one assistant reply to learn) or ``"episode"`` (a multi-turn conversation). An
    exporter whose format has one schema per kind picks it by mode, so a file holds one schema.
    """

    messages: list[Message]
    tools: list[dict[str, Any]]
    metadata: dict[str, Any]
    image: Callable[[str], bytes] = field(repr=False, default=lambda sha: b"")
    dedupe_key: bytes = b""
    mode: Literal["step", "episode"] = "step"

    def image_hashes(self) -> list[str]:
        return [h for m in self.messages for h in m.image_hashes()]


@dataclass
class RowCounts:
    """Steps or examples the row builder could not use, by reason."""

    no_reply: int = 0
    empty_reply: int = 0
    malformed_tool_call: int = 0  # arguments that are not a JSON object: not a valid target
    too_many_images: int = 0
    too_long: int = 0
    truncated_steps: int = 0  # episode mode, overflow="truncate"

    def add(self, reason: str) -> None:
        setattr(self, reason, getattr(self, reason) + 1)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# -- measuring -----------------------------------------------------------------------------
def message_chars(msg: Message) -> int:
    n = len(msg.text())
    for call in msg.tool_calls or ():
        n += len(call.function.name) + len(call.function.arguments)
    return n


def example_length(messages: list[Message], cfg: RowsConfig) -> int:
    """Approximate tokens (see the module docstring)."""
    chars = sum(message_chars(m) for m in messages)
    images = sum(len(m.image_hashes()) for m in messages)
    return math.ceil(chars / cfg.chars_per_token) + cfg.image_tokens * images


def _fits(messages: list[Message], cfg: RowsConfig) -> tuple[bool, bool]:
    images = sum(len(m.image_hashes()) for m in messages)
    too_many = images > cfg.max_images
    too_long = cfg.max_sequence_length is not None and (
        example_length(messages, cfg) > cfg.max_sequence_length
    )
    return too_many, too_long


# -- dedupe keys ---------------------------------------------------------------------------
def canonical_action(calls: list[ToolCall] | None) -> list[Any]:
    """Tool calls as (name, arguments) with JSON arguments normalised (key order, spacing)."""
    out: list[Any] = []
    for call in calls or ():
        try:
            args: Any = json.loads(call.function.arguments)
        except ValueError:
            args = call.function.arguments
        out.append([call.function.name, args])
    return out


def step_key(step: Step, assistant: Message) -> bytes:
    """sha256 (first 8 bytes) of (frame hashes, text observation, action)."""
    obs = step.observation
    payload = [obs.images, obs.text, canonical_action(assistant.tool_calls), assistant.text()]
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).digest()[:8]


# -- the assistant turn --------------------------------------------------------------------
def assistant_message(step: Step, cfg: RowsConfig) -> tuple[Message | None, str | None]:
    """The training target for ``step``, or (None, reason)."""
    if cfg.assistant == "tool_calls":
        if not step.tool_calls:
            return None, "empty_reply"
        if not all(_json_object(c.function.arguments) for c in step.tool_calls):
            return None, "malformed_tool_call"
        return Message(role="assistant", content=None, tool_calls=list(step.tool_calls)), None
    reply = step.reply
    if reply is None:
        return None, "no_reply"
    if not reply.tool_calls and not reply.text().strip():
        return None, "empty_reply"
    if not all(_json_object(c.function.arguments) for c in reply.tool_calls or ()):
        return None, "malformed_tool_call"
    return Message(role="assistant", content=reply.content, tool_calls=reply.tool_calls), None


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def last_user(prompt: list[Message]) -> Message | None:
    for msg in reversed(prompt):
        if msg.role == "user":
            return msg
    return None


# -- metadata ------------------------------------------------------------------------------
def _metadata(item: EpisodeTrace, steps: list[Step], messages: list[Message], source: str) -> dict:
    ep, run = item.episode, item.run
    user_img = any(m.image_hashes() for m in messages if m.role == "user")
    asst_img = any(m.image_hashes() for m in messages if m.role == "assistant")
    achievements: list[str] = []
    for s in steps:
        achievements.extend(a for a in s.achievements if a not in achievements)
    return {
        "source": source,
        "run": run.id,
        "run_name": run.name,
        "env": run.env_name,
        "policy": run.policy_name,
        "model": run.model,
        "episode": ep.id,
        "seed": ep.seed,
        "step": steps[0].index,
        "step_end": steps[-1].index,
        "num_steps": len(steps),
        "num_images": sum(len(m.image_hashes()) for m in messages),
        "has_image": any(m.image_hashes() for m in messages),
        "user_has_image": user_img,
        "assistant_has_image": asst_img,
        "reward": sum(s.reward for s in steps),
        "achievements": achievements,
        "episode_total_reward": ep.total_reward,
        "episode_achievements": list(ep.achievements),
        "episode_unique_achievements": ep.unique_achievements,
        "episode_steps": ep.steps,
        "episode_status": str(ep.status),
    }


# -- builders ------------------------------------------------------------------------------
class RowBuilder:
    """Turns a filtered :class:`EpisodeTrace` into examples (a generator, episode by episode)."""

    def __init__(self, cfg: RowsConfig):
        self.cfg = cfg
        self.counts = RowCounts()

    def examples(self, item: EpisodeTrace, source: str) -> Iterator[Example]:
        if self.cfg.mode == "step":
            yield from self._step_rows(item, source)
        else:
            yield from self._episode_rows(item, source)

    def _tools(self, item: EpisodeTrace) -> list[dict[str, Any]]:
        return list(item.run.tools) if self.cfg.include_tools else []

    # one example per decision step
    def _step_rows(self, item: EpisodeTrace, source: str) -> Iterator[Example]:
        for step in item.steps:
            assistant, reason = assistant_message(step, self.cfg)
            if assistant is None:
                self.counts.add(reason or "no_reply")
                continue
            messages = self._fit_step(list(step.prompt), assistant)
            if messages is None:
                continue
            yield Example(
                messages=messages,
                tools=self._tools(item),
                metadata=_metadata(item, [step], messages, source),
                dedupe_key=step_key(step, assistant),
            )

    def _fit_step(self, prompt: list[Message], assistant: Message) -> list[Message] | None:
        """Drop the oldest history turns (whole messages) until the example fits, or None."""
        head = prompt[:1] if prompt and prompt[0].role == "system" else []
        history = prompt[len(head) : -1] if prompt else []
        tail = prompt[-1:] if prompt else []
        while True:
            messages = [*head, *history, *tail, assistant]
            too_many, too_long = _fits(messages, self.cfg)
            if not (too_many or too_long):
                return messages
            if not history:
                if too_many:
                    self.counts.too_many_images += 1
                else:
                    self.counts.too_long += 1
                return None
            history = history[1:]
            while history and history[0].role != "user":  # never start on an orphan reply
                history = history[1:]

    # multi-turn conversations
    def _episode_rows(self, item: EpisodeTrace, source: str) -> Iterator[Example]:
        system: list[Message] = []
        turns: list[tuple[Step, Message, Message]] = []
        for step in item.steps:
            if not system and step.prompt and step.prompt[0].role == "system":
                system = [step.prompt[0]]
            user = last_user(step.prompt)
            assistant, reason = assistant_message(step, self.cfg)
            if user is None or assistant is None:
                self.counts.add(reason or "no_reply")
                continue
            turns.append((step, user, assistant))

        chunk: list[tuple[Step, Message, Message]] = []
        for i, turn in enumerate(turns):
            if not self._fits_alone(system, turn):
                continue
            if chunk and not self._fits_with(system, chunk, turn):
                yield self._episode_example(item, system, chunk, source)
                chunk = []
                if self.cfg.overflow == "truncate":
                    self.counts.truncated_steps += len(turns) - i
                    return
            chunk.append(turn)
        if chunk:
            yield self._episode_example(item, system, chunk, source)

    def _fits_alone(self, system: list[Message], turn: tuple[Step, Message, Message]) -> bool:
        too_many, too_long = _fits([*system, turn[1], turn[2]], self.cfg)
        if too_many:
            self.counts.too_many_images += 1
        elif too_long:
            self.counts.too_long += 1
        return not (too_many or too_long)

    def _fits_with(self, system: list[Message], chunk: list, turn: tuple) -> bool:
        too_many, too_long = _fits(self._conversation(system, [*chunk, turn]), self.cfg)
        return not (too_many or too_long)

    def _conversation(self, system: list[Message], chunk: list) -> list[Message]:
        messages = list(system)
        for j, (step, user, assistant) in enumerate(chunk):
            messages += [user, assistant]
            if j + 1 < len(chunk) and assistant.tool_calls:
                messages += tool_results(step, assistant, self.cfg.tool_results)
        return messages

    def _episode_example(self, item: EpisodeTrace, system: list, chunk: list, source: str):
        messages = self._conversation(system, chunk)
        keys = b"".join(step_key(step, asst) for step, _, asst in chunk)
        return Example(
            messages=messages,
            tools=self._tools(item),
            metadata=_metadata(item, [t[0] for t in chunk], messages, source),
            dedupe_key=hashlib.sha256(keys).digest()[:8],
            mode="episode",
        )


def tool_results(step: Step, assistant: Message, enabled: bool) -> list[Message]:
    """One tool message per call: what the environment executed, from the recorded step."""
    if not enabled:
        return []
    result = {"actions": step.actions, "reward": step.reward, "achievements": step.achievements}
    if step.invalid:
        result["invalid"] = [f"{inv.kind}: {inv.detail}" for inv in step.invalid]
    content = json.dumps(result)
    return [
        Message(role="tool", tool_call_id=call.id, content=content)
        for call in assistant.tool_calls or ()
    ]
