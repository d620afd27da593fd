"""A step as the step page shows it: the exact messages sent (images by hash), the verbatim
reply, the executed tool calls and actions, why a decision was invalid, tokens, latency,
retries and the estimated cost."""

from __future__ import annotations

from typing import Any

from vlmforge.pricing import estimate_cost
from vlmforge.trace import Message, Run, Step
from vlmforge_view.reader import TraceReader
from vlmforge_view.timeline import vitals


def message_view(message: Message) -> dict[str, Any]:
    """A message with its content as parts (a string content is one text part)."""
    if message.content is None:
        parts: list[dict[str, Any]] = []
    elif isinstance(message.content, str):
        parts = [{"type": "text", "text": message.content}]
    else:
        parts = [p.model_dump(mode="json", exclude_none=True) for p in message.content]
    return {
        "role": message.role,
        "name": message.name,
        "tool_call_id": message.tool_call_id,
        "parts": parts,
        "tool_calls": [c.model_dump(mode="json") for c in message.tool_calls or []],
    }


def step_view(run: Run, step: Step, reader: TraceReader, steps_in_episode: int) -> dict[str, Any]:
    call = step.lm_call
    usage = call.usage if call is not None else None
    cost = (
        estimate_cost(
            call.model if call is not None else run.model,
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
            reader.prices,
        )
        if call is not None or run.model is None
        else None
    )
    return {
        "episode_id": step.episode_id,
        "index": step.index,
        "steps_in_episode": steps_in_episode,
        "run": {"id": run.id, "name": run.name, "policy": run.policy_name, "model": run.model},
        "prompt": [message_view(m) for m in step.prompt],
        "tools": list(run.tools),  # the tool schemas sent with the prompt (stored once per run)
        "reply": message_view(step.reply) if step.reply is not None else None,
        "tool_calls": [c.model_dump(mode="json") for c in step.tool_calls],
        "parsed_from_text": step.parsed_from_text,
        "actions": list(step.actions),
        "invalid": [i.model_dump(mode="json") for i in step.invalid],
        "invalid_decision": step.invalid_decision,
        "feedback": step.observation.feedback,
        "reward": step.reward,
        "achievements": list(step.achievements),
        "vitals": vitals(step),
        "done": step.done,
        "truncated": step.truncated,
        "termination": step.termination,
        "error": step.error,
        "info": step.info,
        "started_at": step.started_at.isoformat(),
        "policy_latency_s": step.policy_latency_s,
        "env_latency_s": step.env_latency_s,
        "lm_call": call.model_dump(mode="json") if call is not None else None,
        "cost_usd": cost,
        "frame": step.observation.images[-1] if step.observation.images else None,
    }


def step_payload(reader: TraceReader, episode_id: str, index: int) -> dict[str, Any]:
    episode = reader.episode(episode_id)
    run = reader.run(episode.run_id)
    return step_view(run, reader.step(episode_id, index), reader, episode.steps)
