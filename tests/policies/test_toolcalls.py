"""parse_tool_calls_from_text: Hermes/Qwen blocks and JSON objects, never a guessed call."""

from __future__ import annotations

import json

import pytest

from vlmforge.toolcalls import parse_tool_calls_from_text


def calls(text: str | None) -> list[tuple[str, object]]:
    return [
        (c.function.name, json.loads(c.function.arguments))
        for c in parse_tool_calls_from_text(text)
    ]


def test_qwen_block_with_reasoning_text_around_it() -> None:
    text = (
        "I should chop the tree first.\n<tool_call>\n"
        '{"name": "interact_many", "arguments": {"actions": ["move_left", "do"]}}\n'
        "</tool_call>"
    )
    assert calls(text) == [("interact_many", {"actions": ["move_left", "do"]})]


def test_several_blocks_keep_their_order_and_get_ids() -> None:
    text = (
        '<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {"y": 2}}</tool_call>'
    )
    parsed = parse_tool_calls_from_text(text, id_prefix="t7")
    assert [c.function.name for c in parsed] == ["a", "b"]
    assert [c.id for c in parsed] == ["t7_0", "t7_1"]


def test_unterminated_last_block_still_counts() -> None:
    text = '<tool_call>\n{"name": "interact", "arguments": {"action": "do"}}'
    assert calls(text) == [("interact", {"action": "do"})]


def test_bare_json_object_and_code_fence() -> None:
    assert calls('{"name": "interact", "arguments": {"action": "noop"}}') == [
        ("interact", {"action": "noop"})
    ]
    fenced = 'Here:\n```json\n{"name": "interact", "arguments": {"action": "do"}}\n```\nDone.'
    assert calls(fenced) == [("interact", {"action": "do"})]


def test_json_array_of_calls_and_parameters_key() -> None:
    text = '[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {"k": "v"}}]'
    assert calls(text) == [("a", {}), ("b", {"k": "v"})]


def test_nested_call_inside_a_wrapper_object() -> None:
    text = '{"thought": "go left", "tool_call": {"name": "interact", "arguments": {"action": "x"}}}'
    assert calls(text) == [("interact", {"action": "x"})]


def test_string_arguments_are_kept_verbatim_even_if_invalid() -> None:
    text = '<tool_call>{"name": "interact", "arguments": "{\\"action\\": \\"do\\""}</tool_call>'
    (call,) = parse_tool_calls_from_text(text)
    assert call.function.arguments == '{"action": "do"'


def test_non_ascii_arguments_survive() -> None:
    (call,) = parse_tool_calls_from_text('{"name": "say", "arguments": {"text": "héllo"}}')
    assert json.loads(call.function.arguments) == {"text": "héllo"}


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "I will move left and then chop the tree.",
        "move_left",
        '{"action": "move_left"}',  # no name: not a call
        '{"name": "interact"}',  # no arguments: not a call
        '{"name": "interact", "arguments": [1, 2]}',  # arguments neither object nor string
        '{"name": 3, "arguments": {}}',
        '<tool_call>{"name": "interact", "arguments": {"action": "do"</tool_call>',  # broken JSON
        "<tool_call></tool_call>",
        "[1, 2, 3] {not json}",
    ],
)
def test_nothing_parses_means_no_call(text: str | None) -> None:
    assert parse_tool_calls_from_text(text) == []


def test_calls_inside_thinking_are_not_the_answer() -> None:
    text = (
        '<think>maybe <tool_call>{"name": "a", "arguments": {}}</tool_call>? no.</think>\n'
        '<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    )
    assert [c.function.name for c in parse_tool_calls_from_text(text)] == ["b"]
    unfinished = '<think>I will call {"name": "a", "arguments": {}}</think>'
    assert parse_tool_calls_from_text(unfinished) == []


def test_only_block_contents_count_when_blocks_exist() -> None:
    text = (
        'Example: {"name": "fake", "arguments": {}}\n'
        '<tool_call>{"name": "real", "arguments": {}}</tool_call>'
    )
    assert [c.function.name for c in parse_tool_calls_from_text(text)] == ["real"]
