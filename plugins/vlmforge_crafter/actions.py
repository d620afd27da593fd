"""Tool schemas for Crafter actions; tool calls are turned into actions by the core parser.

``interact_many`` and ``interact`` are enum-of-actions tools, so the strict parser of
:mod:`vlmforge.decisions` (:func:`~vlmforge.decisions.parse_action_calls`) applies: nothing is
guessed at, a decision is either executed exactly as given or rejected whole, an action name
that is not one of the 17 is ``unknown_action``, more than ``max_actions_per_call`` actions is
``too_many_actions``, and only the first of several tool calls is executed (the others are
``extra_tool_calls``; the next observation says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from vlmforge.decisions import ActionTool, ParsedDecision, action_tools, parse_action_calls
from vlmforge.decisions import feedback_message as core_feedback
from vlmforge.trace import InvalidAction, ToolCall
from vlmforge_crafter.config import ACTION_NAMES

INTERACT = "interact"
INTERACT_MANY = "interact_many"
TOOL_NAMES = (INTERACT_MANY, INTERACT)
__all__ = ["ParsedDecision", "feedback_message", "parse_tool_calls", "tool_schemas"]


def tool_schemas(max_actions_per_call: int) -> list[dict[str, Any]]:
    """OpenAI function-tool JSON schemas: ``interact_many`` (a list) and ``interact`` (one)."""
    action_enum = list(ACTION_NAMES)
    return [
        {
            "type": "function",
            "function": {
                "name": INTERACT_MANY,
                "description": (
                    f"Execute 1 to {max_actions_per_call} Crafter actions in order, one game "
                    "step each. Execution stops early if you die or the episode ends."
                ),
                "parameters": {
                    "type": "object",
                    "properties": {
                        "actions": {
                            "type": "array",
                            "items": {"type": "string", "enum": action_enum},
                            "minItems": 1,
                            "maxItems": max_actions_per_call,
                            "description": "Action names, executed first to last.",
                        }
                    },
                    "required": ["actions"],
                    "additionalProperties": False,
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": INTERACT,
                "description": "Execute one Crafter action (one game step).",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "action": {
                            "type": "string",
                            "enum": action_enum,
                            "description": "The action name.",
                        }
                    },
                    "required": ["action"],
                    "additionalProperties": False,
                },
            },
        },
    ]


def parse_tool_calls(tool_calls: Sequence[ToolCall], max_actions: int) -> ParsedDecision:
    """Validate a decision with the core parser for enum-of-actions tools
    (:func:`vlmforge.decisions.parse_action_calls`) against these tools."""
    return parse_action_calls(tool_calls, _action_tools(max_actions), max_actions=max_actions)


@cache
def _action_tools(max_actions: int) -> tuple[ActionTool, ...]:
    return tuple(action_tools(tool_schemas(max_actions)))


def feedback_message(invalid: Sequence[InvalidAction], fallback: str, rejected: bool) -> str:
    """The note shown in the next observation about what was wrong with the last decision."""
    return core_feedback(invalid, fallback, rejected, ACTION_NAMES)
