"""Training config models (``vlmforge train --config TRAIN.toml``). Light: pydantic only.

Every key is honoured (see docs/train.md for what each does); unknown keys are errors that name
the file, the line and the key.
"""

from __future__ import annotations

import importlib
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vlmforge.config import StrictModel

DEFAULT_TARGET_MODULES = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
]


def tracker_installed(tracker: str) -> bool:
    """Whether the package a ``report_to`` tracker writes with can be imported."""
    try:
        importlib.import_module(tracker)
    except ImportError:
        return False
    return True


class LoraSettings(StrictModel):
    """``[lora]``: the adapter, and optional QLoRA (4-bit base weights, CUDA only)."""

    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TARGET_MODULES),
        min_length=1,
        description="Module names that get adapters (the language model's projections).",
    )
    modules_to_save: list[str] = Field(
        default_factory=list,
        description="Modules trained in full and saved with the adapter (e.g. lm_head).",
    )
    qlora: bool = Field(
        False, description="Load the base in 4-bit NF4 (needs CUDA + bitsandbytes)."
    )


class SFTSettings(StrictModel):
    """Keys shared by ``sft`` (full fine-tuning) and ``lora-sft``."""

    model: str = Field(..., description="Base model: a local folder or a model id.")
    dataset: str = Field(..., description="Training JSONL (openai-sft or trl export).")
    eval_dataset: str | None = Field(None, description="Validation JSONL (same formats).")
    output_dir: str = Field(..., description="Where the adapter/model and reports are written.")
    format: Literal["auto", "openai-sft", "trl"] = Field("auto", description="Dataset format.")
    skip_bad_rows: bool = Field(
        False, description="Skip and count unusable rows instead of failing."
    )
    oversample: int = Field(
        1,
        ge=1,
        le=100,
        description="Repeat each training row whose target calls an action outside "
        "common_actions this many times per epoch.",
    )
    common_actions: list[str] = Field(
        default_factory=list,
        description="The actions whose rows stay once when oversample > 1 (e.g. the moves).",
    )

    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal[
        "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"
    ] = "linear"
    warmup_steps: int = Field(0, ge=0)
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)
    batch_size: int = Field(4, ge=1, description="Per-device batch size.")
    gradient_accumulation_steps: int = Field(1, ge=1)
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    seed: int = Field(0, ge=0)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU."
    )
    gradient_checkpointing: bool = False
    logging_steps: int = Field(1, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every N steps.")
    save_steps: int = Field(50, ge=1, description="Checkpoint every N steps (for resume).")
    save_total_limit: int | None = Field(2, ge=1)
    resume: bool = Field(True, description="Resume from the last checkpoint in output_dir.")
    min_pixels: int | None = Field(
        None, ge=1, description="Smallest image area the processor keeps."
    )
    max_pixels: int | None = Field(None, ge=1, description="Largest image area (resized down).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train.")
    progress: bool = Field(True, description="Show a rich progress bar with loss and steps/s.")
    report_to: list[Literal["tensorboard"]] = Field(
        default_factory=list,
        description='Also log the training metrics to these trackers: "tensorboard" (event '
        "files in OUTPUT_DIR/tensorboard; needs the tensorboard package).",
    )

    @field_validator("report_to")
    @classmethod
    def _trackers_installed(cls, value: list[str]) -> list[str]:
        for tracker in dict.fromkeys(value):
            if not tracker_installed(tracker):
                raise ValueError(
                    f"report_to {tracker!r} needs the {tracker} package, which is not "
                    f"installed: pip install {tracker} (or pip install 'vlmforge[{tracker}]'), "
                    f"or remove {tracker!r} from report_to"
                )
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _check(self) -> SFTSettings:
        if self.eval_steps is not None and self.eval_dataset is None:
            raise ValueError("eval_steps needs eval_dataset")
        if self.warmup_steps and self.warmup_ratio:
            raise ValueError("set warmup_steps or warmup_ratio, not both")
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError("min_pixels is larger than max_pixels")
        if self.oversample > 1 and not self.common_actions:
            raise ValueError(
                "oversample needs common_actions: the actions whose rows stay once (otherwise "
                "every row is repeated, which only lengthens an epoch)"
            )
        return self


class FullSFTConfig(SFTSettings):
    """``--trainer sft``: every weight is trained."""

    learning_rate: float = Field(1e-5, gt=0)


class LoraSFTConfig(SFTSettings):
    """``--trainer lora-sft``: a LoRA adapter on the language model."""

    lora: LoraSettings = Field(default_factory=LoraSettings)
