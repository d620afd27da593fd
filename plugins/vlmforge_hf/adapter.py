"""The peft ``LoraConfig`` of a ``[lora]`` table: adapters on the language model only."""

from __future__ import annotations

from typing import Any, Protocol


class LoraTable(Protocol):
    r: int
    alpha: int
    dropout: float
    target_modules: list[str]
    modules_to_save: list[str]


def lora_config(lora: LoraTable) -> Any:
    from peft import LoraConfig

    names = "|".join(sorted(set(lora.target_modules)))
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        # the language model's projections only (vision-tower modules share some names)
        target_modules=rf"^(?!.*visual).*\.({names})$",
        modules_to_save=list(lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
