"""Bundled plugin: the ``openai`` policy (any OpenAI-compatible chat-completions server)."""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register):  # type: ignore[no-untyped-def]
    register(
        "openai",
        "vlmforge_openai.policy:OpenAIPolicy",
        description=(
            "Any OpenAI-compatible server (OpenAI, vLLM, SGLang, Ollama, llama.cpp) by base_url."
        ),
        requires=("openai",),
        install_hint="pip install openai",
    )
