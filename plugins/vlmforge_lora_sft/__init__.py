"""Bundled plugin: the ``lora-sft`` and ``sft`` trainers and the ``vlmforge models`` commands.

Needs the ``[train]`` extra (torch, transformers, peft, trl). This module stays light: the
trainers are registered as ``"module:Class"`` strings and the commands import heavy libraries
only when they run.
"""

from __future__ import annotations

from typing import Any

from vlmforge.hookspecs import hookimpl

REQUIRES = ("torch", "transformers", "peft", "trl")
INSTALL_HINT = "pip install 'vlmforge[train]'"


@hookimpl
def register_trainers(register: Any) -> None:
    register(
        "lora-sft",
        "vlmforge_lora_sft.trainer:LoraSFTTrainer",
        description="LoRA (or QLoRA) SFT of a VLM with TRL on an openai-sft / trl export.",
        requires=REQUIRES,
        install_hint=INSTALL_HINT,
    )
    register(
        "sft",
        "vlmforge_lora_sft.trainer:FullSFTTrainer",
        description="Full fine-tuning of every weight with TRL on an openai-sft / trl export.",
        requires=REQUIRES,
        install_hint=INSTALL_HINT,
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from vlmforge_lora_sft.commands import models

    cli.add_command(models)
