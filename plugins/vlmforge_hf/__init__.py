"""Bundled plugin: the ``hf`` policy — a local transformers VLM (base + optional LoRA adapter) —
and the ``grpo`` trainer that improves it with reinforcement learning on environment reward.

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


@hookimpl
def register_trainers(register: Any) -> None:
    register(
        "grpo",
        "vlmforge_hf.grpo.trainer:GRPOTrainer",
        description="RL on environment reward: groups of recorded hf rollouts, clipped "
        "policy-gradient LoRA updates with a KL to the start.",
        requires=("torch", "transformers", "peft"),
        install_hint="pip install 'vlmforge[train]'",
    )
