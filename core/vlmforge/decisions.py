"""The decisions an environment's tool schemas allow, read from the schemas themselves.

Many environments take actions through "enum-of-actions" tools: a function with exactly one
argument that is either one action name (``{"type": "string", "enum": [...]}``) or a list of them
(``{"type": "array", "items": {"type": "string", "enum": [...]}, "minItems": m, "maxItems": n}``).
Crafter's ``interact`` and ``interact_many`` are such tools. For them the set of valid decisions
is known exactly, so a local model can be asked to choose among them (``decoding = "score"`` in
the ``hf`` policy) instead of having to spell a tool call.

:func:`action_tools` finds those tools in a list of OpenAI function-tool schemas,
:func:`enumerate_decisions` lists every decision they allow up to a number of actions, and
:func:`parse_action_calls` turns a policy's tool calls into the actions to execute, strictly
(an environment with such tools need not write its own parser; ``crafter`` uses this one):

- no tool call -> ``no_tool_call``; a tool that is not one of them -> ``unknown_tool``;
- arguments that are not a JSON object with exactly the tool's one key, of the right type ->
  ``malformed_arguments`` (also fewer than the tool's ``minItems``);
- a name outside the tool's enum -> ``unknown_action`` (case matters: nothing is guessed);
- more than ``maxItems`` (or ``max_actions``) -> ``too_many_actions``; none -> ``empty_actions``;
- several calls in one reply: the FIRST is executed (if valid), the others are recorded as
  ``extra_tool_calls`` and not executed.

A decision is executed exactly as given or rejected whole (:attr:`ParsedDecision.rejected`:
the environment then applies its fallback); :func:`feedback_message` is the note for the next
observation.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vlmforge.trace import InvalidAction, ToolCall


@dataclass(frozen=True)
class ActionTool:
    """A tool whose one argument is an action name or a list of action names."""

    name: str  # the function's name
    argument: str  # the one property of its parameters
    actions: tuple[str, ...]  # the enum of action names
    many: bool  # True: the argument is a list of actions
    min_items: int = 1
    max_items: int = 1

    def arguments(self, actions: Sequence[str]) -> dict[str, Any]:
        """The arguments object for ``actions`` (one action for a single-action tool)."""
        if self.many:
            return {self.argument: list(actions)}
        if len(actions) != 1:
            raise ValueError(f"tool '{self.name}' takes exactly one action, got {len(actions)}")
        return {self.argument: actions[0]}


@dataclass(frozen=True)
class Candidate:
    """One valid decision: a tool call with its arguments (as a dict) and the actions."""

    tool: str
    arguments: dict[str, Any]
    actions: tuple[str, ...]


def _string_enum(schema: Any) -> tuple[str, ...] | None:
    if not isinstance(schema, dict) or schema.get("type") != "string":
        return None
    enum = schema.get("enum")
    if not isinstance(enum, list) or not enum or not all(isinstance(v, str) for v in enum):
        return None
    return tuple(dict.fromkeys(enum))


def action_tool(tool: dict[str, Any]) -> ActionTool | None:
    """The :class:`ActionTool` an OpenAI function-tool schema describes, or None."""
    fn = tool.get("function") if tool.get("type", "function") == "function" else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        return None
    params = fn.get("parameters")
    if not isinstance(params, dict) or params.get("type") != "object":
        return None
    props = params.get("properties")
    if not isinstance(props, dict) or len(props) != 1:
        return None
    ((argument, schema),) = props.items()
    if argument not in (params.get("required") or []):
        return None
    single = _string_enum(schema)
    if single is not None:
        return ActionTool(fn["name"], argument, single, many=False)
    if isinstance(schema, dict) and schema.get("type") == "array":
        items = _string_enum(schema.get("items"))
        if items is None:
            return None
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 1)))
        if low < 0 or high < max(low, 1):
            return None
        return ActionTool(fn["name"], argument, items, many=True, min_items=low, max_items=high)
    return None


def action_tools(tools: Iterable[dict[str, Any]]) -> list[ActionTool]:
    """The enum-of-actions tools among ``tools``, in order (others are left out)."""
    return [t for t in (action_tool(tool) for tool in tools) if t is not None]


def enumerate_decisions(
    tools: Iterable[dict[str, Any]], *, max_actions: int = 1, limit: int = 4096
) -> list[Candidate]:
    """Every decision the enum-of-actions tools allow with at most ``max_actions`` actions.

    A list tool contributes every sequence of ``max(1, minItems)`` to ``min(maxItems,
    max_actions)`` actions; a single-action tool one candidate per action. Raises ValueError
    when there is no such tool, or when the candidates would exceed ``limit``.
    """
    if max_actions < 1:
        raise ValueError(f"max_actions must be at least 1, got {max_actions}")
    found = action_tools(tools)
    if not found:
        raise ValueError(
            "no tool takes an action name (a string enum) or a list of them, so the valid "
            "decisions cannot be listed"
        )
    out: list[Candidate] = []
    for tool in found:
        if not tool.many:
            lengths: Iterable[int] = [1]
        else:
            lengths = range(max(1, tool.min_items), min(tool.max_items, max_actions) + 1)
        for n in lengths:
            if len(out) + len(tool.actions) ** n > limit:
                raise ValueError(
                    f"more than {limit} candidate decisions (tool '{tool.name}' with up to "
                    f"{n} of {len(tool.actions)} actions); lower the number of actions"
                )
            for seq in itertools.product(tool.actions, repeat=n):
                out.append(Candidate(tool.name, tool.arguments(seq), tuple(seq)))
    return out


@dataclass
class ParsedDecision:
    """The actions to execute (empty when the decision is rejected) and what was wrong."""

    actions: list[str] = field(default_factory=list)
    invalid: list[InvalidAction] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        """True when nothing of the decision is executed (the fallback is applied instead)."""
        return not self.actions


def parse_action_calls(
    tool_calls: Sequence[ToolCall],
    tools: Sequence[ActionTool] | Sequence[dict[str, Any]],
    *,
    max_actions: int | None = None,
) -> ParsedDecision:
    """Validate a decision against enum-of-actions ``tools`` (:class:`ActionTool` s, or the
    OpenAI tool schemas an environment sends: the action tools among them are used); the first
    call is executed only if it is valid as a whole. ``max_actions`` caps a list tool below
    its ``maxItems``."""
    found = [t if isinstance(t, ActionTool) else action_tool(t) for t in tools]
    by_name = {t.name: t for t in found if t is not None}
    if not by_name:
        raise ValueError("parse_action_calls needs at least one enum-of-actions tool")
    if not tool_calls:
        return ParsedDecision(
            invalid=[InvalidAction(kind="no_tool_call", detail="the reply contained no tool call")]
        )
    first, extra = tool_calls[0], tool_calls[1:]
    actions, problem = _parse_call(first, by_name, max_actions)
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


def _parse_call(
    call: ToolCall, tools: dict[str, ActionTool], max_actions: int | None
) -> tuple[list[str], InvalidAction | None]:
    name, cid = call.function.name, call.id

    def bad(kind: Any, detail: str) -> tuple[list[str], InvalidAction]:
        return [], InvalidAction(kind=kind, detail=detail, tool_call_id=cid)

    tool = tools.get(name)
    if tool is None:
        return bad("unknown_tool", f"unknown tool '{name}'; the tools are {' and '.join(tools)}")
    raw = call.function.arguments
    try:
        args = json.loads(raw) if raw.strip() else None
    except json.JSONDecodeError as exc:
        return bad("malformed_arguments", f"arguments of {name} are not valid JSON ({exc.msg})")
    key, example = tool.argument, json.dumps(tool.arguments(_example(tool)))
    if not isinstance(args, dict) or set(args) != {key}:
        return bad(
            "malformed_arguments",
            f"arguments of {name} must be a JSON object with exactly the key '{key}', "
            f"e.g. {example}; got {_short(raw)}",
        )
    value = args[key]
    if not tool.many:
        if not isinstance(value, str):
            return bad("malformed_arguments", f"'{key}' must be a string, e.g. {example}")
        values = [value]
    else:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return bad(
                "malformed_arguments",
                f"'{key}' must be a list of action-name strings, e.g. {example}",
            )
        values = value
        most = tool.max_items if max_actions is None else min(tool.max_items, max_actions)
        if not values:
            return bad("empty_actions", f"'{key}' is empty; give at least one action")
        if len(values) < tool.min_items:
            return bad(
                "malformed_arguments",
                f"{len(values)} actions given; at least {tool.min_items} per call",
            )
        if len(values) > most:
            return bad("too_many_actions", f"{len(values)} actions given; at most {most} per call")
    allowed = set(tool.actions)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        names = ", ".join(f"'{_short(v, 40)}'" for v in dict.fromkeys(unknown))
        return bad("unknown_action", f"unknown action {names}")
    return list(values), None


def _example(tool: ActionTool) -> list[str]:
    if not tool.many:
        return [tool.actions[0]]
    return list(tool.actions[: max(2, tool.min_items)])[: max(tool.max_items, 1)]


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def feedback_message(
    invalid: Sequence[InvalidAction], fallback: str, rejected: bool, actions: Sequence[str]
) -> str:
    """The note shown in the next observation about what was wrong with the last decision
    (``actions``: the valid action names, listed when the decision was rejected)."""
    problems = "; ".join(f"{i.detail} [{i.kind}]" for i in invalid)
    if rejected:
        return (
            f"Your last tool call was invalid: {problems}. Nothing of it was executed; the "
            f"fallback action '{fallback}' was applied instead. Valid actions: "
            f"{', '.join(actions)}."
        )
    return f"Note about your last reply: {problems}. Make exactly one tool call per reply."
