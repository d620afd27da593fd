"""parse_completion: chat-completion bodies as servers send them, and what is not one."""

from __future__ import annotations

import pytest

from vlmforge_openai.reply import parse_completion
from vlmforge_openai.retry import MalformedResponseError


def body(message: dict, **extra) -> dict:
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], **extra}


def test_full_reply() -> None:
    data = body(
        {
            "role": "assistant",
            "content": "ok",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        model="m-1",
        usage={
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "total_tokens": 12,
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    )
    reply = parse_completion(data)
    assert reply.model == "m-1" and reply.finish_reason == "stop" and reply.content == "ok"
    assert reply.tool_calls[0].id == "c1" and reply.tool_calls[0].function.arguments == "{}"
    assert reply.usage.total_tokens == 12 and reply.reasoning_tokens == 3


def test_server_variations_are_tolerated_without_changing_meaning() -> None:
    data = body(
        {
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "tool_calls": [{"function": {"name": "f", "arguments": {"action": "do"}}}],
        }
    )
    reply = parse_completion(data)
    assert reply.content == "ab"
    assert reply.tool_calls[0].id == "call_0"
    assert reply.tool_calls[0].function.arguments == '{"action": "do"}'
    assert reply.model is None and reply.usage.total_tokens is None


@pytest.mark.parametrize(
    "data,problem",
    [
        ("<html>", "not a JSON object"),
        ({"choices": []}, "no choices"),
        ({"error": {"message": "upstream overloaded"}}, "an error, not a completion: upstream"),
        ({"error": "boom"}, "an error, not a completion: boom"),
        ({"choices": [{"index": 0}]}, "no message"),
        (body({"tool_calls": "f()"}), "not a list"),
        (body({"tool_calls": [{"id": "x"}]}), "has no function"),
        (body({"content": 42}), "content is a int"),
    ],
)
def test_not_a_chat_completion(data, problem: str) -> None:
    with pytest.raises(MalformedResponseError, match=problem):
        parse_completion(data)
