"""The core parser for enum-of-actions tools (``vlmforge.decisions.parse_action_calls``): any
environment's tools, not only Crafter's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vlmforge.decisions import action_tools, feedback_message, parse_action_calls
from vlmforge.trace import FunctionCall, ToolCall

MOVES = ["up", "down", "left", "right"]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "move",
            "parameters": {
                "type": "object",
                "properties": {"direction": {"type": "string", "enum": MOVES}},
                "required": ["direction"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "path",
            "parameters": {
                "type": "object",
                "properties": {
                    "steps": {
                        "type": "array",
                        "items": {"type": "string", "enum": MOVES},
                        "minItems": 2,
                        "maxItems": 5,
                    }
                },
                "required": ["steps"],
            },
        },
    },
    {"type": "function", "function": {"name": "note", "parameters": {"type": "object"}}},
]


def call(name: str, args: Any, cid: str = "c1") -> ToolCall:
    raw = args if isinstance(args, str) else json.dumps(args)
    return ToolCall(id=cid, function=FunctionCall(name=name, arguments=raw))


def test_valid_calls_give_their_actions_exactly() -> None:
    assert parse_action_calls([call("move", {"direction": "left"})], TOOLS).actions == ["left"]
    parsed = parse_action_calls([call("path", {"steps": ["up", "up", "right"]})], TOOLS)
    assert parsed.actions == ["up", "up", "right"] and not parsed.invalid and not parsed.rejected


@pytest.mark.parametrize(
    ("calls", "kind", "detail"),
    [
        ([], "no_tool_call", "no tool call"),
        ([call("note", {})], "unknown_tool", "the tools are move and path"),
        ([call("move", "{x")], "malformed_arguments", "not valid JSON"),
        ([call("move", {"dir": "up"})], "malformed_arguments", "exactly the key 'direction'"),
        ([call("move", {"direction": 3})], "malformed_arguments", "'direction' must be a string"),
        ([call("path", {"steps": "up"})], "malformed_arguments", "list of action-name strings"),
        ([call("path", {"steps": ["up"]})], "malformed_arguments", "at least 2 per call"),
        ([call("path", {"steps": []})], "empty_actions", "'steps' is empty"),
        ([call("path", {"steps": ["up"] * 6})], "too_many_actions", "at most 5 per call"),
        ([call("move", {"direction": "Up"})], "unknown_action", "unknown action 'Up'"),
    ],
)
def test_invalid_decisions_are_rejected_whole(calls, kind, detail) -> None:
    parsed = parse_action_calls(calls, TOOLS)
    assert parsed.rejected and parsed.actions == []
    assert parsed.invalid[0].kind == kind and detail in parsed.invalid[0].detail
    note = feedback_message(parsed.invalid, "up", True, MOVES)
    assert f"[{kind}]" in note and "fallback action 'up'" in note and "up, down" in note


def test_only_the_first_call_runs_and_max_actions_caps_below_max_items() -> None:
    calls = [call("move", {"direction": "down"}), call("move", {"direction": "up"}, "c2")]
    parsed = parse_action_calls(calls, action_tools(TOOLS))
    assert parsed.actions == ["down"] and not parsed.rejected
    assert [(i.kind, i.tool_call_id) for i in parsed.invalid] == [("extra_tool_calls", "c2")]
    capped = parse_action_calls([call("path", {"steps": ["up"] * 4})], TOOLS, max_actions=3)
    assert capped.invalid[0].kind == "too_many_actions" and "at most 3" in capped.invalid[0].detail


def test_tools_without_an_action_enum_are_refused() -> None:
    with pytest.raises(ValueError, match="enum-of-actions"):
        parse_action_calls([], TOOLS[2:])
