"""The ``synth`` policy: the ``openai`` policy with Synth's defaults.

Differences from ``openai`` are defaults only: the key comes from ``SYNTH_API_KEY``, the server is
``SYNTH_BASE_URL`` when that variable is set, else :data:`SYNTH_DEFAULT_BASE_URL` (both overridden
by ``base_url`` in config), the model is a Qwen-VL id, calls are labelled provider ``synth``, and
Qwen ``<tool_call>`` text parsing is on. Every ``openai`` config key works the same way here.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vlmforge_openai.config import OpenAIPolicyConfig
from vlmforge_openai.policy import OpenAIPolicy, env_base_url

# Synth's OpenAI-compatible inference route (the synth-ai SDK's default backend host plus
# /api/inference/v1). Override with SYNTH_BASE_URL or policy.base_url when it moves.
SYNTH_DEFAULT_BASE_URL = "https://api.usesynth.ai/api/inference/v1"
SYNTH_BASE_URL_ENV = "SYNTH_BASE_URL"
SYNTH_API_KEY_ENV = "SYNTH_API_KEY"

# Qwen-VL ids the preset is documented with (any id the server knows works; vision is detected
# from the name, see vlmforge_openai.models).
SYNTH_MODELS: tuple[str, ...] = (
    "Qwen/Qwen2-VL-7B-Instruct",
    "Qwen/Qwen2.5-VL-3B-Instruct",
    "Qwen/Qwen2.5-VL-7B-Instruct",
    "Qwen/Qwen2.5-VL-32B-Instruct",
    "Qwen/Qwen3-VL-4B-Instruct",
    "Qwen/Qwen3-VL-8B-Instruct",
    "Qwen/Qwen3-VL-30B-A3B-Instruct",
)


class SynthPolicyConfig(OpenAIPolicyConfig):
    """``[policy]`` settings for ``name = "synth"``: the openai keys with Synth defaults."""

    model: str = Field("Qwen/Qwen3-VL-8B-Instruct", min_length=1, description="A Qwen-VL model id.")
    base_url: str | None = Field(
        None,
        description=f"Server URL (default: ${SYNTH_BASE_URL_ENV}, else {SYNTH_DEFAULT_BASE_URL}).",
    )
    api_key_env: str = Field(
        SYNTH_API_KEY_ENV, description="Environment variable holding the Synth API key."
    )
    parse_text_tool_calls: bool = Field(
        True, description="Parse Qwen <tool_call> blocks from text replies."
    )


class SynthPolicy(OpenAIPolicy):
    """``--policy synth``."""

    config_model: ClassVar[type[OpenAIPolicyConfig]] = SynthPolicyConfig
    name: ClassVar[str] = "synth"

    def default_base_url(self) -> str:
        return env_base_url(SYNTH_BASE_URL_ENV) or SYNTH_DEFAULT_BASE_URL

    def default_provider(self) -> str:
        return "synth"
