"""Shared helpers for the Crafter tests: building tool calls and episodes."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image

from vlmforge import plugins
from vlmforge.trace import FunctionCall, ToolCall


def call(name: str, arguments: Any, call_id: str = "call_1") -> ToolCall:
    """A tool call; ``arguments`` that are not a str are JSON-encoded."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=raw))


def many(*actions: str) -> list[ToolCall]:
    return [call("interact_many", {"actions": list(actions)})]


def one(action: str) -> list[ToolCall]:
    return [call("interact", {"action": action})]


def make_env(**settings: Any) -> Any:
    """The registered ``crafter`` environment, built through the registry like the CLI does."""
    return plugins.get_registry().create("environment", "crafter", settings)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
