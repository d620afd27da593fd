"""Tool schemas for Crafter actions and the strict parser that turns tool calls into actions.

Nothing is guessed at: a decision is either executed exactly as given or rejected whole.

- no tool call -> ``no_tool_call``;
- a tool other than ``interact`` / ``interact_many`` -> ``unknown_tool``;
- arguments that are not a JSON object of the documented shape -> ``malformed_arguments``;
- an action name that is not one of the 17 -> ``unknown_action``;
- more than ``max_actions_per_call`` actions -> ``too_many_actions``; none -> ``empty_actions``;
- several tool calls in one reply: the FIRST is executed (if valid) and the others are recorded
  as ``extra_tool_calls`` and not executed. The step then counts as having an invalid part, and
  the next observation says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vlmforge.trace import InvalidAction, ToolCall
from vlmforge_crafter.config import ACTION_NAMES

INTERACT = "interact"
INTERACT_MANY = "interact_many"
TOOL_NAMES = (INTERACT_MANY, INTERACT)
_ACTION_SET = frozenset(ACTION_NAMES)


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


@dataclass
class ParsedDecision:
    """The actions to execute (empty when the decision is rejected) and what was wrong."""

    actions: list[str] = field(default_factory=list)
    invalid: list[InvalidAction] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        """True when nothing of the decision is executed (the fallback is applied instead)."""
        return not self.actions


def parse_tool_calls(tool_calls: Sequence[ToolCall], max_actions: int) -> ParsedDecision:
    """Validate a decision; the first call is executed only if it is valid as a whole."""
    if not tool_calls:
        return ParsedDecision(
            invalid=[InvalidAction(kind="no_tool_call", detail="the reply contained no tool call")]
        )
    first, extra = tool_calls[0], tool_calls[1:]
    actions, problem = _parse_call(first, max_actions)
    out = ParsedDecision(actions=actions)
    if problem is not None:
        out.invalid.append(problem)
    for call in extra:
        out.invalid.append(
            InvalidAction(
                kind="extra_tool_calls",
                detail=(
                    f"tool call '{call.function.name}' was not executed: only the first tool "
                    "call of a reply is executed"
                ),
                tool_call_id=call.id,
            )
        )
    return out


def _parse_call(call: ToolCall, max_actions: int) -> tuple[list[str], InvalidAction | None]:
    name, cid = call.function.name, call.id

    def bad(kind: str, detail: str) -> tuple[list[str], InvalidAction]:
        return [], InvalidAction(kind=kind, detail=detail, tool_call_id=cid)

    if name not in TOOL_NAMES:
        return bad(
            "unknown_tool",
            f"unknown tool '{name}'; the tools are {INTERACT_MANY} and {INTERACT}",
        )
    raw = call.function.arguments
    try:
        args = json.loads(raw) if raw.strip() else None
    except json.JSONDecodeError as exc:
        return bad("malformed_arguments", f"arguments of {name} are not valid JSON ({exc.msg})")
    key = "actions" if name == INTERACT_MANY else "action"
    example = '{"actions": ["move_left", "do"]}' if key == "actions" else '{"action": "do"}'
    if not isinstance(args, dict) or set(args) != {key}:
        return bad(
            "malformed_arguments",
            f"arguments of {name} must be a JSON object with exactly the key '{key}', "
            f"e.g. {example}; got {_short(raw)}",
        )
    value = args[key]
    if name == INTERACT:
        if not isinstance(value, str):
            return bad("malformed_arguments", f"'action' must be a string, e.g. {example}")
        values = [value]
    else:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return bad(
                "malformed_arguments",
                f"'actions' must be a list of action-name strings, e.g. {example}",
            )
        values = value
        if not values:
            return bad("empty_actions", "'actions' is empty; give at least one action")
        if len(values) > max_actions:
            return bad(
                "too_many_actions",
                f"{len(values)} actions given; at most {max_actions} per call",
            )
    unknown = [v for v in values if v not in _ACTION_SET]
    if unknown:
        names = ", ".join(f"'{_short(v, 40)}'" for v in dict.fromkeys(unknown))
        return bad("unknown_action", f"unknown action {names}")
    return list(values), None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def feedback_message(invalid: Sequence[InvalidAction], fallback: str, rejected: bool) -> str:
    """The note shown in the next observation about what was wrong with the last decision."""
    problems = "; ".join(f"{i.detail} [{i.kind}]" for i in invalid)
    if rejected:
        return (
            f"Your last tool call was invalid: {problems}. Nothing of it was executed; the "
            f"fallback action '{fallback}' was applied instead. Valid actions: "
            f"{', '.join(ACTION_NAMES)}."
        )
    return f"Note about your last reply: {problems}. Make exactly one tool call per reply."
