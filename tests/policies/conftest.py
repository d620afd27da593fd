"""Shared pieces for policy tests: a small tool-calling EnvSpec, frames, a secret key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from vlmforge.components import EnvSpec, Observation
from vlmforge.images import PngImage, encode_png
from vlmforge.testing.openai_server import OpenAIServer

# A key with a recognisable shape: any 6+ character piece of it in a record is a leak.
SECRET = "sk-vlmforge-test-Zq81xWv7Pm3Kd2Lr9Tb"
KEY_ENV = "VLMFORGE_TEST_OPENAI_KEY"

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "interact_many",
            "description": "Do 1-4 actions.",
            "parameters": {
                "type": "object",
                "properties": {
                    "actions": {"type": "array", "items": {"type": "string"}, "maxItems": 4}
                },
                "required": ["actions"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "interact",
            "description": "Do one action.",
            "parameters": {
                "type": "object",
                "properties": {"action": {"type": "string"}},
                "required": ["action"],
            },
        },
    },
]


def make_spec(**overrides: Any) -> EnvSpec:
    settings: dict[str, Any] = dict(
        name="gridtest",
        tools=TOOLS,
        system_prompt="You play a grid game. Call a tool.",
        action_names=["noop", "move_left", "move_right", "do"],
        max_actions_per_call=4,
        fallback_action="noop",
    )
    settings.update(overrides)
    return EnvSpec(**settings)


def frame(value: int) -> PngImage:
    """A distinct 16x16 RGB frame per value."""
    arr = np.full((16, 16, 3), value % 256, dtype=np.uint8)
    arr[0, 0] = [value % 7, value % 11, value % 13]
    return encode_png(arr)


def observation(i: int, *, feedback: str | None = None, images: int = 1) -> Observation:
    return Observation(
        text=f"step {i}: you see grass",
        images=[frame(i * 10 + j) for j in range(images)],
        ground_truth={"secret_position": [i, i]},
        feedback=feedback,
    )


def assert_no_secret(*dumps: Any) -> None:
    """No 6-character piece of SECRET appears in any of ``dumps`` (models, dicts, strings)."""
    pieces = {SECRET[i : i + 6] for i in range(len(SECRET) - 5)}
    for dump in dumps:
        if hasattr(dump, "model_dump_json"):
            text = dump.model_dump_json()
        elif isinstance(dump, str):
            text = dump
        else:
            text = json.dumps(dump, default=str)
        leaked = [p for p in pieces if p in text]
        assert not leaked, f"API key fragment {leaked[0]!r} found in a record"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The secret key, exported in KEY_ENV."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


@pytest.fixture(params=["direct", "aiohttp", "httpx"])
def policy_config(api_key: str, request: pytest.FixtureRequest) -> Callable[..., dict[str, Any]]:
    """``policy_config(server, **keys)``: an openai policy config pointed at ``server``.

    Every test using it runs on every HTTP stack (``http_client``): they must record the same.
    """

    def build(server: OpenAIServer, **keys: Any) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "model": "gpt-4o",
            "base_url": server.base_url,
            "api_key_env": KEY_ENV,
            "retry_backoff_s": 0.01,
            "retry_backoff_max_s": 0.05,
            "timeout": 5,
            "http_client": request.param,
        }
        settings.update(keys)
        return settings

    return build
