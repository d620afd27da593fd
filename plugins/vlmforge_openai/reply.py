"""Reading a chat-completion JSON body into what a step records, without guessing.

The body is taken as the server sent it (a dict from the official client's JSON decoding); any
shape that is not a chat completion raises :class:`~vlmforge_openai.retry.MalformedResponseError`
(retried like a 5xx). Servers differ in small ways this tolerates: ``arguments`` sent as an
object instead of a JSON string (serialised, not altered), a missing tool-call id (given a
positional ``call_<i>``), ``content`` as a list of text parts (joined).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vlmforge.trace import FunctionCall, ToolCall, Usage
from vlmforge_openai.retry import MalformedResponseError


@dataclass
class CompletionReply:
    """The first choice of a chat completion, as received."""

    model: str | None
    finish_reason: str | None
    content: str | None
    refusal: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    reasoning_tokens: int | None = None


def parse_completion(data: Any) -> CompletionReply:
    """The reply in ``data`` (a decoded chat.completion body); MalformedResponseError if none."""
    if not isinstance(data, dict):
        raise MalformedResponseError(f"the reply is not a JSON object ({type(data).__name__})")
    choices = data.get("choices")
    error = data.get("error")
    if not choices and error:  # some gateways answer 200 with an error body
        detail = error.get("message", error) if isinstance(error, dict) else error
        raise MalformedResponseError(f"the reply is an error, not a completion: {detail}")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponseError("the reply has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise MalformedResponseError("the reply's first choice has no message")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise MalformedResponseError("the reply's tool_calls is not a list")
    usage, reasoning = _usage(data.get("usage"))
    model = data.get("model")
    return CompletionReply(
        model=model if isinstance(model, str) and model else None,
        finish_reason=_str_or_none(choice.get("finish_reason")),
        content=_content(message.get("content")),
        refusal=_str_or_none(message.get("refusal")),
        tool_calls=[_tool_call(i, c) for i, c in enumerate(raw_calls)],
        usage=usage,
        reasoning_tokens=reasoning,
    )


def _tool_call(index: int, call: Any) -> ToolCall:
    if not isinstance(call, dict):
        raise MalformedResponseError(f"tool_calls[{index}] is not an object")
    function = call.get("function")
    if not isinstance(function, dict):
        raise MalformedResponseError(f"tool_calls[{index}] has no function")
    arguments = function.get("arguments")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    call_id = call.get("id")
    return ToolCall(
        id=call_id if isinstance(call_id, str) and call_id else f"call_{index}",
        function=FunctionCall(name=str(function.get("name") or ""), arguments=arguments),
    )


def _content(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):  # some servers send [{"type": "text", "text": ...}]
        return "".join(
            str(p.get("text", "")) for p in value if isinstance(p, dict) and p.get("type") == "text"
        )
    raise MalformedResponseError(f"the message content is a {type(value).__name__}")


def _usage(value: Any) -> tuple[Usage, int | None]:
    if not isinstance(value, dict):
        return Usage(), None
    details = value.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return (
        Usage(
            prompt_tokens=_int_or_none(value.get("prompt_tokens")),
            completion_tokens=_int_or_none(value.get("completion_tokens")),
            total_tokens=_int_or_none(value.get("total_tokens")),
        ),
        _int_or_none(reasoning),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
