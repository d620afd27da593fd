"""Bundled plugin: the transformers side of vlmforge.

- the ``hf`` policy: a local transformers VLM (base + optional LoRA adapter);
- the ``lora-sft`` and ``sft`` trainers (:mod:`vlmforge_hf.sft`) and the ``grpo`` trainer
  (:mod:`vlmforge_hf.grpo`) that improves an ``hf`` model with RL on environment reward;
- the ``vlmforge models`` commands (``models tiny``: :mod:`vlmforge_hf.tiny`) and
  ``vlmforge pipeline`` (:mod:`vlmforge_hf.pipeline`), which chains eval, filter, ``models tiny``,
  the trainers and a held-out eval of the ``hf`` policy.

The policy and the trainers share the prompt rendering (:mod:`vlmforge_hf.rendering`), the
processor loading (:mod:`vlmforge_hf.processor`) and the LoRA settings
(:mod:`vlmforge_hf.adapter`). Needs the ``[train]`` extra. This module stays light: components are
registered as ``"module:Class"`` strings and torch/transformers are imported only when used.
"""

from __future__ import annotations

from typing import Any

from vlmforge.hookspecs import hookimpl

REQUIRES = ("torch", "transformers", "peft", "trl")
INSTALL_HINT = "pip install 'vlmforge[train]'"


@hookimpl
def register_policies(register: Any) -> None:
    register(
        "hf",
        "vlmforge_hf.policy:HFPolicy",
        description="Local transformers VLM (base + optional LoRA adapter), batched generate.",
        requires=REQUIRES,
        install_hint=INSTALL_HINT,
    )


@hookimpl
def register_trainers(register: Any) -> None:
    register(
        "lora-sft",
        "vlmforge_hf.sft.trainer:LoraSFTTrainer",
        description="LoRA (or QLoRA) SFT of a VLM with TRL on an openai-sft / trl export.",
        requires=REQUIRES,
        install_hint=INSTALL_HINT,
    )
    register(
        "sft",
        "vlmforge_hf.sft.trainer:FullSFTTrainer",
        description="Full fine-tuning of every weight with TRL on an openai-sft / trl export.",
        requires=REQUIRES,
        install_hint=INSTALL_HINT,
    )
    register(
        "grpo",
        "vlmforge_hf.grpo.trainer:GRPOTrainer",
        description="RL on environment reward: groups of recorded hf rollouts, clipped "
        "policy-gradient LoRA updates with a KL to the start.",
        requires=("torch", "transformers", "peft"),
        install_hint=INSTALL_HINT,
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from vlmforge_hf.commands import models
    from vlmforge_hf.pipeline.command import command as pipeline

    cli.add_command(models)
    cli.add_command(pipeline)
