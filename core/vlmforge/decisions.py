"""The decisions an environment's tool schemas allow, read from the schemas themselves.

Many environments take actions through "enum-of-actions" tools: a function with exactly one
argument that is either one action name (``{"type": "string", "enum": [...]}``) or a list of them
(``{"type": "array", "items": {"type": "string", "enum": [...]}, "minItems": m, "maxItems": n}``).
Crafter's ``interact`` and ``interact_many`` are such tools. For them the set of valid decisions
is known exactly, so a local model can be asked to choose among them (``decoding = "score"`` in
the ``hf`` policy) instead of having to spell a tool call.

:func:`action_tools` finds those tools in a list of OpenAI function-tool schemas and
:func:`enumerate_decisions` lists every decision they allow up to a number of actions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


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
