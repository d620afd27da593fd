"""The decisions an environment's tool schemas allow (vlmforge.decisions)."""

import pytest

from vlmforge.decisions import action_tool, action_tools, enumerate_decisions
from vlmforge_crafter.actions import tool_schemas
from vlmforge_crafter.config import ACTION_NAMES


def _tool(name, params):
    return {"type": "function", "function": {"name": name, "parameters": params}}


def test_crafter_tools_are_read_from_their_schemas():
    many, one = action_tools(tool_schemas(8))
    assert (many.name, many.argument, many.many, many.min_items, many.max_items) == (
        "interact_many", "actions", True, 1, 8)  # fmt: skip
    assert (one.name, one.argument, one.many) == ("interact", "action", False)
    assert many.actions == one.actions == ACTION_NAMES


def test_enumerate_single_and_sequences():
    tools = tool_schemas(8)
    single = enumerate_decisions(tools)
    assert len(single) == 2 * 17
    assert single[0].tool == "interact_many" and single[0].arguments == {"actions": ["noop"]}
    assert single[17].tool == "interact" and single[17].arguments == {"action": "noop"}
    two = enumerate_decisions(tools[:1], max_actions=2)
    assert len(two) == 17 + 17 * 17
    assert two[-1].arguments == {"actions": ["make_iron_sword", "make_iron_sword"]}
    assert len({tuple(c.actions) for c in two}) == len(two)
    with pytest.raises(ValueError, match="more than 100 candidate"):
        enumerate_decisions(tools[:1], max_actions=2, limit=100)
    with pytest.raises(ValueError, match="at least 1"):
        enumerate_decisions(tools, max_actions=0)


def test_min_items_and_caps_are_honoured():
    enum = {"type": "string", "enum": ["a", "b"]}
    tool = _tool("t", {"type": "object", "required": ["xs"],
                       "properties": {"xs": {"type": "array", "items": enum,
                                             "minItems": 2, "maxItems": 3}}})  # fmt: skip
    found = enumerate_decisions([tool], max_actions=3)
    assert {len(c.actions) for c in found} == {2, 3} and len(found) == 4 + 8
    assert enumerate_decisions([tool], max_actions=2)[0].arguments == {"xs": ["a", "a"]}


@pytest.mark.parametrize(
    "params",
    [
        {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},  # no enum
        {"type": "object", "properties": {"x": {"type": "string", "enum": ["a"]}}},  # optional
        {"type": "object", "required": ["x", "y"], "properties": {
            "x": {"type": "string", "enum": ["a"]}, "y": {"type": "string", "enum": ["b"]}}},
        {"type": "object", "required": ["x"],
         "properties": {"x": {"type": "array", "items": {"type": "integer"}}}},
    ],
)  # fmt: skip
def test_other_tools_are_not_action_tools(params):
    assert action_tool(_tool("t", params)) is None
    with pytest.raises(ValueError, match="cannot be listed"):
        enumerate_decisions([_tool("t", params)])
