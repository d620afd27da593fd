"""Bundled plugin: the ``openai`` policy (any OpenAI-compatible chat-completions server) and its
``synth`` preset (Synth-hosted Qwen-VL models, :mod:`vlmforge_openai.synth`)."""

from __future__ import annotations

from typing import Any

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register: Any) -> None:
    register(
        "openai",
        "vlmforge_openai.policy:OpenAIPolicy",
        description=(
            "Any OpenAI-compatible server (OpenAI, vLLM, SGLang, Ollama, llama.cpp) by base_url."
        ),
        requires=("openai",),
        install_hint="pip install openai",
    )
    register(
        "synth",
        "vlmforge_openai.synth:SynthPolicy",
        description="Synth-hosted Qwen-VL models (SYNTH_API_KEY); the openai policy preset.",
        requires=("openai",),
        install_hint="pip install openai",
    )
