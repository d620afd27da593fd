"""Bundled plugin: the ``hf`` policy — a local transformers VLM (base + optional LoRA adapter).

Needs the ``[train]`` extra. This module stays light: the policy is registered as a
``"module:Class"`` string and torch/transformers are imported only when it is used.
"""

from __future__ import annotations

from typing import Any

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register: Any) -> None:
    register(
        "hf",
        "vlmforge_hf.policy:HFPolicy",
        description="Local transformers VLM (base + optional LoRA adapter), batched generate.",
        requires=("torch", "transformers", "peft", "trl"),
        install_hint="pip install 'vlmforge[train]'",
    )
