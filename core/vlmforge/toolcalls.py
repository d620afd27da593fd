"""Tool calls written as text: Hermes/Qwen ``<tool_call>`` blocks and bare JSON objects.

Models served without a tool-call parser (vLLM without ``--tool-call-parser``, a raw
transformers ``generate``, some Ollama models) answer a tool-calling prompt with text such as::

    <tool_call>
    {"name": "interact_many", "arguments": {"actions": ["move_left", "do"]}}
    </tool_call>

or a bare JSON object ``{"name": ..., "arguments": ...}`` (possibly inside a Markdown code fence).
:func:`parse_tool_calls_from_text` turns such text into :class:`~vlmforge.trace.ToolCall` objects
exactly as written: it never guesses a tool name or an argument, and text with nothing that parses
gives an empty list (the environment then records an invalid decision and applies its fallback).
"""

from __future__ import annotations

import json
import re
from typing import Any

from vlmforge.trace import FunctionCall, ToolCall

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_DECODER = json.JSONDecoder()


def parse_tool_calls_from_text(text: str | None, *, id_prefix: str = "text_call") -> list[ToolCall]:
    """The tool calls written in ``text``, in order; ``[]`` if none parses.

    Recognised forms:

    - Hermes/Qwen blocks ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (an
      unterminated last block, as left by a model cut off after the JSON, counts too). When the
      text has ``<tool_call>`` blocks, only their contents are considered.
    - Otherwise, every top-level JSON object in the text (bare, or inside a code fence) that has a
      string ``"name"`` and an ``"arguments"`` (or ``"parameters"``) object or string, and JSON
      arrays of such objects.

    ``arguments`` given as an object is serialised with :func:`json.dumps`; given as a string it is
    kept verbatim (it may be invalid JSON: the environment reports that as malformed arguments).
    Calls get the ids ``f"{id_prefix}_{i}"`` (i from 0). Reasoning in ``<think>...</think>``
    (Qwen3, QwQ, DeepSeek-R1) is skipped: only what follows the last ``</think>`` is the answer.
    """
    if not text:
        return []
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks = "<tool_call>" in text
    chunks = [m.group(1) for m in _BLOCK.finditer(text)] if blocks else [text]
    found: list[tuple[str, str]] = []
    for chunk in chunks:
        found.extend(_calls_in(chunk))
    return [
        ToolCall(id=f"{id_prefix}_{i}", function=FunctionCall(name=name, arguments=arguments))
        for i, (name, arguments) in enumerate(found)
    ]


def _calls_in(chunk: str) -> list[tuple[str, str]]:
    """(name, arguments) of each call-shaped JSON value found scanning ``chunk`` left to right."""
    calls: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = _next_json_start(chunk, pos)
        if start < 0:
            return calls
        try:
            value, end = _DECODER.raw_decode(chunk, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        items = value if isinstance(value, list) else [value]
        shaped = [call for item in items if (call := _as_call(item)) is not None]
        if shaped:
            calls.extend(shaped)
            pos = end
        else:
            # Not a call: look inside it (e.g. {"tool_call": {...}}) by moving one character on.
            pos = start + 1


def _next_json_start(chunk: str, pos: int) -> int:
    starts = [i for i in (chunk.find("{", pos), chunk.find("[", pos)) if i >= 0]
    return min(starts) if starts else -1


def _as_call(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    key = "arguments" if "arguments" in item else "parameters" if "parameters" in item else None
    if key is None:
        return None
    arguments = item[key]
    if isinstance(arguments, str):
        return name, arguments
    if isinstance(arguments, dict):
        return name, json.dumps(arguments, ensure_ascii=False)
    return None
