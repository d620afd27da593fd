"""Settings of the ``hf`` policy (``[policy]`` in an eval config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vlmforge.config import StrictModel
from vlmforge.prompting import HistoryMode

Decoding = Literal["free", "constrained", "score"]


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
    decoding: Decoding = Field(
        "score",
        description="score: choose among every valid decision by the model's log-likelihood; "
        "constrained: generate, restricted to the tool-call grammar; free: plain generation "
        "(the reply may not be a valid call).",
    )
    tools: list[str] | None = Field(
        None,
        min_length=1,
        description="score / constrained: only decisions with these tools (default: every tool "
        "whose argument is an action name or a list of them).",
    )
    score_max_actions: int = Field(
        1,
        ge=1,
        le=4,
        description="score: candidates carry 1..N actions (N actions give 17^N candidates in "
        "Crafter).",
    )
    max_new_tokens: int = Field(
        64, ge=1, le=8192, description="free / constrained: generated tokens per decision."
    )
    temperature: float = Field(
        1.0, ge=0.0, le=5.0, description="Sampling temperature; 0 = the most likely decision."
    )
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling (temperature > 0).")
    seed: int = Field(
        0,
        description="Sampling seed. score: each decision draws from (seed, episode seed, "
        "decision number), so a seed replays the same choices; free / constrained: "
        "torch.manual_seed(seed) once when the policy starts.",
    )
    batch_size: int = Field(8, ge=1, le=1024, description="Most requests per generate call.")
    batch_wait_ms: float = Field(
        5.0, ge=0.0, le=10_000, description="How long to wait for more requests to batch."
    )
    use_vision: bool = Field(True, description="Send the frames (False: text only).")
    system_prompt: str | None = Field(None, description="Replaces the environment's prompt.")
    tools_in_prompt: bool | Literal["auto"] = Field(
        "auto",
        description="List the tool schemas in the system turn. auto: as the training rows did "
        "(from the `vlmforge train` output's metadata.json), else true.",
    )
    history: HistoryMode = Field(
        "none",
        description='"none", "tool_calls" (last K calls as text) or "turns"; match what the '
        "training rows were recorded with (the scripted teacher records none).",
    )
    history_k: int = Field(3, ge=0, le=64, description="How many past decisions to show.")
    min_pixels: int | None = Field(None, ge=1, description="Smallest image area (upscaled).")
    max_pixels: int | None = Field(None, ge=1, description="Largest image area (resized down).")

    @model_validator(mode="after")
    def _check(self) -> HFPolicyConfig:
        if self.model is None and self.adapter is None:
            raise ValueError("give `model` (a base model) and/or `adapter`")
        if self.tools is not None and len(set(self.tools)) != len(self.tools):
            raise ValueError("`tools` lists a tool twice")
        return self
