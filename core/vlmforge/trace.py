"""The trace data model: runs, episodes, steps, messages, LM calls (pydantic v2, versioned).

What the model saw and what it said is stored verbatim, once:

- ``Step.prompt`` is the exact list of messages sent to the policy's model (images referenced by
  the sha256 of their PNG bytes, never inlined); ``Step.reply`` is the model's assistant message
  as received (content, tool_calls). Non-model policies (random, scripted) record the prompt a
  model would have been shown and their own reply, so every step exports the same way.
- ``Step.tool_calls`` are the calls that were executed: the reply's own ``tool_calls``, or calls
  parsed from its text (``parsed_from_text=True``). Never invented.
- Rewards are floats per step (the sum of the environment's rewards over the step's primitive
  actions), never cumulative; the episode total is their sum.

Bump :data:`SCHEMA_VERSION` on any change that a store must migrate.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- messages ------------------------------------------------------------------------------
class TextPart(_Model):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Model):
    """An image in a message, by the sha256 of its PNG bytes (stored once in the trace store)."""

    type: Literal["image"] = "image"
    sha256: str
    mime_type: str = "image/png"
    detail: Literal["low", "high", "auto"] | None = None


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(_Model):
    name: str
    arguments: str  # the JSON string exactly as the model produced it (may be invalid JSON)


class ToolCall(_Model):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Model):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def image_hashes(self) -> list[str]:
        if not isinstance(self.content, list):
            return []
        return [p.sha256 for p in self.content if isinstance(p, ImagePart)]

    def text(self) -> str:
        """The text parts joined (or the string content)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


# -- LM calls ------------------------------------------------------------------------------
class Usage(_Model):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        """Field-wise sum; a count unknown on one side takes the other side's."""

        def add(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else a + b

        return Usage(
            prompt_tokens=add(self.prompt_tokens, other.prompt_tokens),
            completion_tokens=add(self.completion_tokens, other.completion_tokens),
            total_tokens=add(self.total_tokens, other.total_tokens),
        )


class Attempt(_Model):
    """One HTTP attempt of an LM call (a retried call has several)."""

    attempt: int
    status: int | None = None  # HTTP status, None for connection errors / timeouts
    latency_s: float
    error: str | None = None
    retry_after_s: float | None = None


class LMCall(_Model):
    """How a step's model reply was obtained. The prompt and reply live on the Step."""

    provider: str
    model: str
    params: dict[str, Any] = Field(default_factory=dict)  # temperature, max_tokens, ... never keys
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0  # wall time of the whole call, retries included
    logprob: float | None = None  # log-probability of the reply under the model, when known
    # log-probability the decision was chosen with among the valid ones (hf decoding = score:
    # softmax(scores / temperature) after top_p), the behaviour policy RL trainers need
    decision_logprob: float | None = None
    retries: int = 0
    attempts: list[Attempt] = Field(default_factory=list)
    error: str | None = None


# -- steps, episodes, runs -----------------------------------------------------------------
class InvalidAction(_Model):
    """Something in the policy's decision that could not be executed as given."""

    kind: Literal[
        "no_tool_call",
        "unknown_tool",
        "malformed_arguments",
        "unknown_action",
        "too_many_actions",
        "empty_actions",
        "extra_tool_calls",
    ]
    detail: str
    tool_call_id: str | None = None


class StepObservation(_Model):
    """The observation the policy acted on at this step, as stored."""

    text: str | None = None
    images: list[str] = Field(default_factory=list)  # sha256 of each PNG, in order
    ground_truth: dict[str, Any] = Field(default_factory=dict)  # kept out of prompts
    feedback: str | None = None  # what went wrong with the previous decision, if anything


class Step(_Model):
    episode_id: str
    index: int
    observation: StepObservation
    prompt: list[Message] = Field(default_factory=list)
    reply: Message | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    parsed_from_text: bool = False
    lm_call: LMCall | None = None
    # the primitive actions executed, the fallback included
    actions: list[str] = Field(default_factory=list)
    invalid: list[InvalidAction] = Field(default_factory=list)
    reward: float = 0.0
    achievements: list[str] = Field(default_factory=list)  # newly unlocked at this step
    done: bool = False
    truncated: bool = False
    termination: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: dt.datetime = Field(default_factory=utcnow)
    policy_latency_s: float = 0.0
    env_latency_s: float = 0.0

    @property
    def invalid_decision(self) -> bool:
        return bool(self.invalid) or not self.tool_calls


class EpisodeStatus(StrEnum):
    running = "running"
    done = "done"
    failed = "failed"
    interrupted = "interrupted"


class Episode(_Model):
    id: str
    run_id: str
    seed: int
    status: EpisodeStatus = EpisodeStatus.running
    steps: int = 0  # decision steps (one policy decision each): the trace's Step rows
    env_steps: int = 0  # primitive environment actions executed (Crafter's own step unit)
    total_reward: float = 0.0
    achievements: list[str] = Field(default_factory=list)  # unique, in unlock order
    termination: str | None = None  # "death", "max_steps", "game_length", "policy_error", ...
    error: str | None = None
    tool_calls: int = 0
    invalid_decisions: int = 0
    usage: Usage = Field(default_factory=Usage)
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    policy_time_s: float = 0.0
    env_time_s: float = 0.0

    @property
    def unique_achievements(self) -> int:
        return len(self.achievements)

    def add_step(self, step: Step) -> None:
        """Count one recorded step into this episode's totals (the runner's single definition)."""
        self.steps += 1
        self.env_steps += len(step.actions)
        self.tool_calls += len(step.tool_calls)
        self.invalid_decisions += int(step.invalid_decision)
        self.total_reward += step.reward
        for name in step.achievements:
            if name not in self.achievements:
                self.achievements.append(name)
        self.policy_time_s += step.policy_latency_s
        self.env_time_s += step.env_latency_s
        if step.lm_call is not None:
            self.usage = self.usage + step.lm_call.usage


class Run(_Model):
    id: str
    name: str
    created_at: dt.datetime = Field(default_factory=utcnow)
    vlmforge_version: str
    schema_version: int = SCHEMA_VERSION
    env_name: str
    env_config: dict[str, Any] = Field(default_factory=dict)
    policy_name: str
    policy_config: dict[str, Any] = Field(default_factory=dict)  # never secrets
    model: str | None = None
    seeds: list[int] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)  # the tool schemas, stored once
    system_prompt: str | None = None
    achievements: list[str] = Field(default_factory=list)  # every unlockable one (EnvSpec)
    tags: list[str] = Field(default_factory=list)
