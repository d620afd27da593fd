"""Turning trace objects into rows and back, exactly.

A step is stored as indexed scalar columns plus a compressed JSON payload with everything else.
Prompt messages before the last one (system prompt, history) become ``{"$ref": sha256}`` entries
pointing into the ``blob`` table, so text that repeats every step is stored once. Reading back
reproduces the same :class:`vlmforge.trace.Step` (round-trip tested).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable
from typing import Any

from vlmforge.trace import Episode, EpisodeStatus, Run, Step, Usage

REF = "$ref"
# Columns of the step table that are not repeated in the payload.
_STEP_COLUMNS = ("episode_id", "index", "reward", "policy_latency_s", "env_latency_s")
_PAYLOAD_EXCLUDE = {*_STEP_COLUMNS, "prompt"}


def dumps(value: Any, *, sort_keys: bool = True) -> str:
    """Compact JSON; deterministic unless ``sort_keys`` is off (then the keys keep their order,
    for data whose order is meaningful, such as tool schemas a chat template prints)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False)


def compress(text: str, level: int = 6) -> bytes:
    return zlib.compress(text.encode("utf-8"), level)


def decompress(data: bytes) -> Any:
    return json.loads(zlib.decompress(bytes(data)).decode("utf-8"))


#: What a corrupt stored value raises when decoded: zlib, UTF-8, JSON (a ValueError), pydantic
#: validation (a ValueError), or JSON of the wrong shape.
DECODE_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    UnicodeDecodeError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
)


def describe(exc: Exception, limit: int = 160) -> str:
    """``Type: first line of the message``, clipped (pydantic errors run to many lines)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    if type(exc).__module__ != "builtins":  # zlib.error, pydantic's ValidationError
        kind = f"{type(exc).__module__.split('.')[0]}.{kind}"
    text = f"{kind}: {first}" if first else kind
    return text if len(text) <= limit else text[: limit - 3] + "..."


def iso(value: dt.datetime | None) -> str | None:
    """UTC ISO 8601 text (sorts chronologically)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def from_iso(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


# -- steps ---------------------------------------------------------------------------------
class EncodedStep:
    """A step ready to insert: scalar columns, payload bytes and the message blobs it refers to
    (sha256 -> message JSON text, not yet compressed)."""

    __slots__ = ("blobs", "columns", "payload")

    def __init__(self, columns: dict[str, Any], payload: bytes, blobs: dict[str, str]):
        self.columns, self.payload, self.blobs = columns, payload, blobs


def encode_step(step: Step, redact: Callable[[str], str], level: int = 6) -> EncodedStep:
    """Split ``step`` into columns, a compressed payload and content-addressed message blobs.

    JSON is produced by pydantic's serializer (Rust) and spliced, not rebuilt in Python: this
    runs once per step on the eval hot path.
    """
    blobs: dict[str, str] = {}
    prompt_items: list[str] = []
    last = len(step.prompt) - 1
    for i, message in enumerate(step.prompt):
        text = redact(message.model_dump_json(exclude_none=True))
        if i == last:
            prompt_items.append(text)
            continue
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        blobs[sha] = text  # compressed by the store only if it is new
        prompt_items.append(f'{{"{REF}":"{sha}"}}')
    rest = step.model_dump_json(exclude_none=True, exclude=_PAYLOAD_EXCLUDE)
    payload = f'{{"prompt":[{",".join(prompt_items)}],{rest[1:]}' if rest != "{}" else "{}"
    usage = step.lm_call.usage if step.lm_call else Usage()
    columns = {
        "index": step.index,
        "reward": step.reward,
        "n_actions": len(step.actions),
        "n_tool_calls": len(step.tool_calls),
        "invalid": step.invalid_decision,
        "done": step.done,
        "has_error": step.error is not None,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "policy_latency_s": step.policy_latency_s,
        "env_latency_s": step.env_latency_s,
    }
    return EncodedStep(columns, compress(redact(payload), level), blobs)


#: A step row's columns as read: index, reward, policy_latency_s, env_latency_s, payload.
StepColumns = tuple[int, float, float, float, bytes]


def decode_step(
    episode_id: str, columns: StepColumns, message: Callable[[str], dict[str, Any]]
) -> Step:
    """Rebuild a Step; ``message(sha)`` returns a stored prompt message's JSON."""
    index, reward, policy_latency_s, env_latency_s, payload = columns
    data = decompress(payload)
    data["prompt"] = [
        message(m[REF]) if isinstance(m, dict) and REF in m else m for m in data.get("prompt", [])
    ]
    data.update(
        episode_id=episode_id,
        index=index,
        reward=reward,
        policy_latency_s=policy_latency_s,
        env_latency_s=env_latency_s,
    )
    return Step.model_validate(data)


def decode_message(data: bytes) -> dict[str, Any]:
    return decompress(data)


# -- episodes ------------------------------------------------------------------------------
def episode_columns(episode: Episode) -> dict[str, Any]:
    """The episode table's columns for ``episode`` (owner excluded)."""
    return {
        "id": episode.id,
        "run": episode.run_id,
        "seed": episode.seed,
        "status": episode.status.value,
        "steps": episode.steps,
        "env_steps": episode.env_steps,
        "total_reward": episode.total_reward,
        "achievements": dumps(list(episode.achievements)),
        "unique_achievements": len(episode.achievements),
        "termination": episode.termination,
        "error": episode.error,
        "tool_calls": episode.tool_calls,
        "invalid_decisions": episode.invalid_decisions,
        "prompt_tokens": episode.usage.prompt_tokens,
        "completion_tokens": episode.usage.completion_tokens,
        "total_tokens": episode.usage.total_tokens,
        "started_at": iso(episode.started_at),
        "finished_at": iso(episode.finished_at),
        "policy_time_s": episode.policy_time_s,
        "env_time_s": episode.env_time_s,
    }


def episode_from_row(row: Any) -> Episode:
    return Episode(
        id=row.id,
        run_id=row.run_id,
        seed=row.seed,
        status=EpisodeStatus(row.status),
        steps=row.steps,
        env_steps=row.env_steps,
        total_reward=row.total_reward,
        achievements=json.loads(row.achievements),
        termination=row.termination,
        error=row.error,
        tool_calls=row.tool_calls,
        invalid_decisions=row.invalid_decisions,
        usage=Usage(
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            total_tokens=row.total_tokens,
        ),
        started_at=from_iso(row.started_at),
        finished_at=from_iso(row.finished_at),
        policy_time_s=row.policy_time_s,
        env_time_s=row.env_time_s,
    )


# -- runs ----------------------------------------------------------------------------------
def run_columns(run: Run, redact_config: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "created_at": iso(run.created_at),
        "vlmforge_version": run.vlmforge_version,
        "trace_schema_version": run.schema_version,
        "env_name": run.env_name,
        "env_config": dumps(redact_config(run.env_config)),
        "policy_name": run.policy_name,
        "policy_config": dumps(redact_config(run.policy_config)),
        "model": run.model,
        "seeds": dumps(list(run.seeds)),
        "tools": dumps(redact_config(run.tools), sort_keys=False),  # as the model saw them
        "system_prompt": run.system_prompt,
        "achievements": dumps(list(run.achievements)),
        "tags": dumps(list(run.tags)),
    }


def run_from_row(row: Any) -> Run:
    return Run(
        id=row.id,
        name=row.name,
        created_at=from_iso(row.created_at),
        vlmforge_version=row.vlmforge_version,
        schema_version=row.trace_schema_version,
        env_name=row.env_name,
        env_config=json.loads(row.env_config),
        policy_name=row.policy_name,
        policy_config=json.loads(row.policy_config),
        model=row.model,
        seeds=json.loads(row.seeds),
        tools=json.loads(row.tools),
        system_prompt=row.system_prompt,
        achievements=json.loads(row.achievements),
        tags=json.loads(row.tags),
    )
