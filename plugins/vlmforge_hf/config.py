"""Settings of the ``hf`` policy (``[policy]`` in an eval config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vlmforge.config import StrictModel
from vlmforge.prompting import HistoryMode


class HFPolicyConfig(StrictModel):
    """A local model: base weights plus an optional LoRA adapter."""

    model: str | None = Field(
        None,
        description="Base model folder or id (default: the adapter's base_model_name_or_path); "
        "a `vlmforge train --trainer sft` output folder uses its model/.",
    )
    adapter: str | None = Field(
        None, description="LoRA adapter folder, or a `vlmforge train` output folder."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda if visible.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on GPUs that support it, float32 otherwise."
    )
    max_new_tokens: int = Field(64, ge=1, le=8192, description="Generated tokens per decision.")
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="0 = greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling (temperature > 0).")
    seed: int = Field(0, description="Sampling seed (torch.manual_seed before each batch).")
    batch_size: int = Field(8, ge=1, le=1024, description="Most requests per generate call.")
    batch_wait_ms: float = Field(
        5.0, ge=0.0, le=10_000, description="How long to wait for more requests to batch."
    )
    use_vision: bool = Field(True, description="Send the frames (False: text only).")
    system_prompt: str | None = Field(None, description="Replaces the environment's prompt.")
    tools_in_prompt: bool = Field(
        True,
        description="List the tool schemas in the system turn (as the openai-sft export does); "
        "false for models trained on exports without tools (the trl export).",
    )
    history: HistoryMode = Field(
        "tool_calls", description='"tool_calls" (last K calls as text), "turns" or "none".'
    )
    history_k: int = Field(3, ge=0, le=64, description="How many past decisions to show.")
    min_pixels: int | None = Field(None, ge=1, description="Smallest image area (upscaled).")
    max_pixels: int | None = Field(None, ge=1, description="Largest image area (resized down).")

    @model_validator(mode="after")
    def _check(self) -> HFPolicyConfig:
        if self.model is None and self.adapter is None:
            raise ValueError("give `model` (a base model) and/or `adapter`")
        return self
