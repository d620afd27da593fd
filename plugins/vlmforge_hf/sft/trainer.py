"""The ``lora-sft`` and ``sft`` trainers: TRL's SFTTrainer on exported vlmforge datasets.

Each example is one decision step: the prompt (system + tools + observation, rendered with the
model's chat template) and the completion (the assistant's action as the template renders it).
Loss is on the completion only. Output layout (see docs/train.md)::

    OUTPUT_DIR/adapter/        LoRA adapter + processor   (lora-sft)
    OUTPUT_DIR/model/          full weights + processor   (sft)
    OUTPUT_DIR/checkpoints/    Trainer checkpoints (resume)
    OUTPUT_DIR/train_config.json, metadata.json, loss_curve.json, loss_curve.png
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from vlmforge import __version__
from vlmforge.errors import ConfigError
from vlmforge_hf.adapter import lora_config
from vlmforge_hf.model_path import model_location
from vlmforge_hf.processor import load_model, load_processor, set_pixel_limits
from vlmforge_hf.rendering import render_completion, render_prompt
from vlmforge_hf.sft.config import FullSFTConfig, LoraSFTConfig, SFTSettings
from vlmforge_hf.sft.data import DatasetStats, Example, read_dataset
from vlmforge_hf.sft.loss import completion_loss_trainer
from vlmforge_hf.sft.oversample import oversampled


def resolve_device(setting: str) -> str:
    import torch

    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = 'cuda' but no CUDA GPU is visible. Use 'auto' or 'cpu'.")
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting


def resolve_precision(setting: str, device: str) -> str:
    """auto -> bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU."""
    import torch

    if setting == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if setting == "fp16" and device != "cuda":
        raise ConfigError("precision = 'fp16' needs a CUDA GPU; on CPU use 'fp32' or 'bf16'.")
    return setting


def to_rows(processor: Any, examples: list[Example]) -> list[dict[str, Any]]:
    """Examples -> TRL prompt/completion rows (rendered text + PIL images)."""
    rows = []
    for ex in examples:
        prompt = render_prompt(processor, ex.prompt, ex.tools)
        completion = render_completion(
            processor, ex.prompt, ex.target, ex.tools, prompt_text=prompt
        )
        rows.append({"prompt": prompt, "completion": completion, "images": ex.images})
    return rows


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    return Dataset.from_list(rows)


def training_args(config: SFTSettings, out_dir: Path, device: str, precision: str) -> Any:
    """The TRL ``SFTConfig`` for ``config`` (every training key maps here)."""
    from trl import SFTConfig

    warmup: float = config.warmup_ratio if config.warmup_ratio else config.warmup_steps
    return SFTConfig(
        output_dir=str(out_dir / "checkpoints"),
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=warmup,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        seed=config.seed,
        data_seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        activation_checkpointing=config.gradient_checkpointing,
        logging_steps=config.logging_steps,
        eval_strategy="steps" if config.eval_steps else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        report_to=[],
        disable_tqdm=True,
        dataloader_pin_memory=device == "cuda",
        max_length=None,  # truncating image tokens breaks Qwen-VL (features/tokens mismatch)
        completion_only_loss=True,  # loss on the assistant's action only
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
    )


TENSORBOARD_DIR = "tensorboard"  # under output_dir: the report_to = ["tensorboard"] event files


def tracker_callbacks(report_to: Sequence[str], out_dir: Path) -> list[Any]:
    """The Trainer callbacks that log to the ``report_to`` trackers (``tensorboard``: event
    files in ``out_dir/tensorboard``, one folder for every run and resume of this output)."""
    callbacks: list[Any] = []
    if "tensorboard" in report_to:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        writer = SummaryWriter(log_dir=str(out_dir / TENSORBOARD_DIR))
        callbacks.append(TensorBoardCallback(tb_writer=writer))
    return callbacks


def _eval_at(log_history: list[dict[str, Any]], step: int) -> dict[str, Any] | None:
    """The evaluation the Trainer logged at ``step``, if it ran one there."""
    for entry in reversed(log_history):
        if "eval_loss" in entry:
            return entry if entry.get("step") == step else None
    return None


def last_checkpoint(out_dir: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out_dir / "checkpoints"
    if not folder.is_dir():
        return None
    found = get_last_checkpoint(str(folder))
    return Path(found) if found else None


class _SFTBase:
    """Shared by both trainers: data, processor, TRL run, reports."""

    config_model: ClassVar[type[SFTSettings]]
    kind: ClassVar[str]

    def __init__(self, config: SFTSettings):
        self.config = config

    # -- hooks for subclasses ----------------------------------------------------------------
    def check(self, device: str) -> None:
        """Refuse settings this machine cannot run, before any heavy work."""

    def load_base(self, device: str, precision: str) -> Any:
        raise NotImplementedError

    def peft_config(self) -> Any:
        return None

    def save_weights(self, trainer: Any, processor: Any, out_dir: Path) -> Path:
        raise NotImplementedError

    # -- the run -----------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """Train; returns a summary (output_dir, steps, losses, paths)."""
        model_location(self.config.model)  # a mistyped folder fails now, before any import
        from transformers import PrinterCallback

        from vlmforge_hf.sft.callbacks import RichProgressCallback
        from vlmforge_hf.sft.reports import (
            hardware,
            loss_curve,
            write_json,
            write_loss_curve,
        )

        cfg = self.config
        started = time.perf_counter()
        device = resolve_device(cfg.device)
        precision = resolve_precision(cfg.precision, device)
        self.check(device)
        out_dir = Path(cfg.output_dir)
        resume_from = last_checkpoint(out_dir)
        if resume_from is not None and not cfg.resume:
            raise ConfigError(
                f"output_dir '{out_dir}' holds checkpoints from an earlier run "
                f"({resume_from.name}). Set resume = true to continue it, or choose another "
                "--output-dir."
            )
        # the data first: a bad row fails before the model is loaded
        train_examples, train_stats = read_dataset(
            cfg.dataset, fmt=cfg.format, skip_bad_rows=cfg.skip_bad_rows
        )
        eval_stats: DatasetStats | None = None
        eval_examples: list[Example] = []
        if cfg.eval_dataset:
            eval_examples, eval_stats = read_dataset(
                cfg.eval_dataset, fmt=cfg.format, skip_bad_rows=cfg.skip_bad_rows
            )
        processor = load_processor(cfg.model)
        set_pixel_limits(processor, cfg.min_pixels, cfg.max_pixels)
        eval_dataset = to_dataset(to_rows(processor, eval_examples)) if eval_stats else None
        trained_examples, oversample_info = oversampled(
            train_examples, cfg.oversample, cfg.common_actions
        )
        train_dataset = to_dataset(to_rows(processor, trained_examples))
        model = self.load_base(device, precision)
        args = training_args(cfg, out_dir, device, precision)
        callbacks = [RichProgressCallback()] if cfg.progress else []
        callbacks += tracker_callbacks(cfg.report_to, out_dir)
        trainer = completion_loss_trainer()(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processor,
            peft_config=self.peft_config(),
            callbacks=callbacks,
        )
        trainer.remove_callback(PrinterCallback)  # logs go to the progress bar and loss curve
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "train_config.json", {"trainer": self.kind, **cfg.model_dump()})
        train_started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        train_time = time.perf_counter() - train_started
        final_eval = None
        if eval_dataset is not None:  # the last logged eval, unless it was at an earlier step
            final_eval = _eval_at(trainer.state.log_history, trainer.state.global_step)
            if final_eval is None:
                final_eval = trainer.evaluate()
        weights_dir = self.save_weights(trainer, processor, out_dir)
        curve = loss_curve(trainer.state.log_history)
        write_loss_curve(curve, out_dir)
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in trainer.model.parameters())
        losses = [p["loss"] for p in curve["train"]]
        n_tokens = next(
            (e["num_tokens"] for e in reversed(trainer.state.log_history) if "num_tokens" in e),
            None,
        )
        metadata = {
            "trainer": self.kind,
            "vlmforge_version": __version__,
            "base_model": cfg.model,
            "output": str(weights_dir),
            "datasets": {
                "train": train_stats.to_dict(),
                "eval": eval_stats.to_dict() if eval_stats else None,
            },
            "steps": trainer.state.global_step,
            "epochs": trainer.state.epoch,
            "resumed_from": str(resume_from) if resume_from else None,
            "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None,
            "train_loss": result.training_loss,
            "eval_loss": final_eval.get("eval_loss") if final_eval else None,
            "eval_completion_accuracy": (
                final_eval.get("eval_completion_accuracy") if final_eval else None
            ),
            # how the prompts were rendered, so the hf policy asks the same way (tools_in_prompt)
            "prompt_tools": any(ex.tools for ex in train_examples),
            "oversample": oversample_info,
            "trainable_parameters": trainable,
            "total_parameters": total,
            "device": device,
            "precision": precision,
            "hardware": hardware(device),
            "train_runtime_s": round(result.metrics.get("train_runtime", train_time), 3),
            "train_call_s": round(train_time, 3),
            "wall_time_s": round(time.perf_counter() - started, 3),
            "train_samples_per_second": result.metrics.get("train_samples_per_second"),
            "tokens_seen": n_tokens,
        }
        write_json(out_dir / "metadata.json", metadata)
        return {
            "output_dir": str(out_dir),
            "weights": str(weights_dir),
            "steps": metadata["steps"],
            "first_loss": metadata["first_loss"],
            "final_loss": metadata["final_loss"],
            "eval_loss": metadata["eval_loss"],
            "examples": train_stats.examples,
            "skipped_rows": train_stats.skipped + (eval_stats.skipped if eval_stats else 0),
            "wall_time_s": metadata["wall_time_s"],
        }


class FullSFTTrainer(_SFTBase):
    """``--trainer sft``: full fine-tuning of every weight."""

    config_model = FullSFTConfig
    kind = "sft"

    def load_base(self, device: str, precision: str) -> Any:
        return load_model(self.config.model)

    def save_weights(self, trainer: Any, processor: Any, out_dir: Path) -> Path:
        target = out_dir / "model"
        trainer.model.save_pretrained(target)
        processor.save_pretrained(target)
        return target


class LoraSFTTrainer(_SFTBase):
    """``--trainer lora-sft``: a LoRA adapter (optionally on a 4-bit QLoRA base)."""

    config_model = LoraSFTConfig
    kind = "lora-sft"
    config: LoraSFTConfig

    def check(self, device: str) -> None:
        if not self.config.lora.qlora:
            return
        if device != "cuda":
            raise ConfigError(
                "lora.qlora = true needs a CUDA GPU (bitsandbytes 4-bit kernels); this machine "
                "has none. Set lora.qlora = false to train a plain LoRA adapter on CPU."
            )
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError("lora.qlora = true needs bitsandbytes: pip install bitsandbytes")

    def load_base(self, device: str, precision: str) -> Any:
        import torch

        if not self.config.lora.qlora:
            dtype = torch.bfloat16 if precision == "bf16" and device == "cuda" else None
            return load_model(self.config.model, dtype=dtype)
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if precision == "bf16" else torch.float16
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        model = load_model(self.config.model, dtype=compute, quantization=quant, device_map={"": 0})
        return prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=self.config.gradient_checkpointing
        )

    def peft_config(self) -> Any:
        return lora_config(self.config.lora)

    def save_weights(self, trainer: Any, processor: Any, out_dir: Path) -> Path:
        target = out_dir / "adapter"
        trainer.model.save_pretrained(target)
        processor.save_pretrained(target)
        return target
