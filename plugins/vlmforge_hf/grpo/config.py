"""``vlmforge train --trainer grpo`` settings (every key documented in docs/train.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from vlmforge.config import DEFAULT_STORE, StoreSection, StrictModel
from vlmforge.seeds import checked_seeds, parse_seeds

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class RewardSettings(StrictModel):
    """``[reward]``: the return of an episode is the sum of these terms (each one recorded)."""

    achievements: float = Field(1.0, description="Per achievement unlocked.")
    env: float = Field(
        0.0, description="Times the environment's own step reward (Crafter: unlocks and health)."
    )
    survival: float = Field(0.0, description="Per environment step played.")
    step: float = Field(0.0, description="Per decision (negative: a per-decision penalty).")
    death: float = Field(0.0, description="Once, when the episode ends by death (e.g. -1).")


class GRPOLora(StrictModel):
    """``[lora]``: the adapter that RL trains on top of the starting model."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(LORA_TARGETS), min_length=1)
    modules_to_save: list[str] = Field(default_factory=list)


class GRPOConfig(StrictModel):
    """The whole ``grpo`` config."""

    model: str = Field(
        ..., description="Starting model: a base model folder, or a `train --trainer sft` output."
    )
    adapter: str | None = Field(
        None, description="Start from this LoRA adapter (a `train --trainer lora-sft` output)."
    )
    output_dir: str = Field(..., description="Adapter, checkpoints, curves, rollouts.db.")
    env: dict[str, Any] = Field(
        default_factory=lambda: {"name": "crafter"}, description="The environment: name + settings."
    )
    policy: dict[str, Any] = Field(
        default_factory=dict,
        description="`hf` policy settings of the rollouts (decoding, temperature, tools, ...).",
    )
    seeds: str | int | list[str | int] = Field(
        "1000-9999", description="Training seeds, taken in order, seeds_per_iteration at a time."
    )
    seeds_per_iteration: int = Field(4, ge=1, le=1024)
    group_size: int = Field(4, ge=2, le=256, description="Episodes per seed (one group).")
    iterations: int = Field(10, ge=1, le=100_000)
    time_limit_s: float | None = Field(
        None,
        gt=0,
        description="Start no iteration that would end past this many seconds of this train "
        "run (model loading included), judged by its slowest iteration so far; the first "
        "iteration of a run always runs, a resumed run has its own limit. null: no limit.",
    )
    max_steps: int = Field(300, ge=1, description="Environment steps per episode.")
    concurrency: int | None = Field(
        None, ge=1, description="Episodes in flight (default: the whole iteration at once)."
    )
    reward: RewardSettings = Field(default_factory=RewardSettings)
    credit: Literal["episode", "return_to_go"] = Field(
        "episode",
        description="episode: every decision gets its episode's advantage; return_to_go: the "
        "discounted reward from that decision on, normalised within the group.",
    )
    gamma: float = Field(0.99, gt=0.0, le=1.0, description="Discount of return_to_go.")
    baseline: Literal["group", "step"] = Field(
        "group",
        description="What return_to_go is compared with: group: the mean over all of the "
        "group's decisions; step: the mean of the group's episodes at the same decision index.",
    )
    learning_rate: float = Field(1e-4, gt=0)
    epochs: int = Field(1, ge=1, le=100, description="Passes over an iteration's decisions.")
    batch_size: int = Field(64, ge=1, description="Decisions per optimizer step.")
    samples_per_iteration: int | None = Field(
        None,
        ge=1,
        description="Learn from this many of an iteration's decisions (drawn at "
        "random; null: all of them).",
    )
    clip: float = Field(0.2, gt=0.0, lt=1.0, description="PPO ratio clip (1 +/- clip).")
    kl_coef: float = Field(
        0.05, ge=0.0, description="Weight of KL(policy || starting policy); 0: clipping only."
    )
    max_grad_norm: float = Field(1.0, gt=0)
    lora: GRPOLora = Field(default_factory=GRPOLora)
    seed: int = Field(0, ge=0, description="Sampling seeds of the rollouts, data order.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    store: StoreSection = Field(
        default_factory=StoreSection,
        description="[store]: the rollout trace store, name (default sqlite) + its settings; "
        'path defaults to output_dir/rollouts.db. A string is the path (store = "r.db").',
    )
    resume: bool = Field(True, description="Continue from the last iteration checkpoint.")
    progress: bool = Field(True, description="A progress bar with the mean reward.")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        return checked_seeds(value)

    @field_validator("store", mode="before")
    @classmethod
    def _store_path(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        wired = sorted({"model", "adapter", "name"} & set(value))
        if wired:
            raise ValueError(f"set {', '.join(wired)} at the top level, not in [policy]")
        return value

    @model_validator(mode="after")
    def _check(self) -> GRPOConfig:
        needed = self.seeds_per_iteration * self.iterations
        if len(parse_seeds(self.seeds)) < needed:
            raise ValueError(
                f"seeds has fewer than seeds_per_iteration x iterations = {needed} seeds"
            )
        if self.baseline == "step" and self.credit != "return_to_go":
            raise ValueError('baseline = "step" needs credit = "return_to_go"')
        if self.policy.get("temperature", 1.0) <= 0:
            raise ValueError("policy.temperature must be > 0: RL learns from sampled decisions")
        return self

    def store_settings(self) -> dict[str, Any]:
        """The ``[store]`` settings the rollouts are written with (sqlite: the default path)."""
        settings = self.store.settings()
        if self.store.name == DEFAULT_STORE:
            settings.setdefault("path", str(Path(self.output_dir) / "rollouts.db"))
        return settings

    def seed_list(self) -> list[int]:
        return parse_seeds(self.seeds)

    def iteration_seeds(self, iteration: int) -> list[int]:
        n = self.seeds_per_iteration
        return self.seed_list()[iteration * n : (iteration + 1) * n]
