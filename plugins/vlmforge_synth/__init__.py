"""Bundled plugin: the ``synth`` policy (the preset for Synth-hosted Qwen-VL models)."""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register):  # type: ignore[no-untyped-def]
    register(
        "synth",
        "vlmforge_synth.policy:SynthPolicy",
        description="Synth-hosted Qwen-VL models (SYNTH_API_KEY); the openai policy preset.",
        requires=("openai",),
        install_hint="pip install openai",
    )
