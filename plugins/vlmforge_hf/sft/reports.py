"""What a training run writes besides the weights: loss curve (JSON + PNG), metadata."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def loss_curve(log_history: list[dict[str, Any]]) -> dict[str, list[dict[str, float]]]:
    """Training and eval loss per optimizer step, from the Trainer's log history."""
    train, evals = [], []
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        if "loss" in entry:
            point = {"step": int(step), "loss": float(entry["loss"])}
            if "learning_rate" in entry:
                point["learning_rate"] = float(entry["learning_rate"])
            if "epoch" in entry:
                point["epoch"] = float(entry["epoch"])
            train.append(point)
        if "eval_loss" in entry:
            evals.append({"step": int(step), "eval_loss": float(entry["eval_loss"])})
    return {"train": train, "eval": evals}


def write_loss_curve(curve: dict[str, list[dict[str, float]]], out_dir: Path) -> list[Path]:
    """``loss_curve.json`` and ``loss_curve.png`` (matplotlib, Agg backend)."""
    json_path = out_dir / "loss_curve.json"
    json_path.write_text(json.dumps(curve, indent=2) + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if curve["train"]:
        ax.plot(
            [p["step"] for p in curve["train"]],
            [p["loss"] for p in curve["train"]],
            label="train loss",
        )
    if curve["eval"]:
        ax.plot(
            [p["step"] for p in curve["eval"]],
            [p["eval_loss"] for p in curve["eval"]],
            marker="o",
            label="eval loss",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png_path = out_dir / "loss_curve.png"
    fig.savefig(png_path)
    plt.close(fig)
    return [json_path, png_path]


def hardware(device: str) -> dict[str, Any]:
    """The machine and library versions a run used."""
    import peft
    import torch
    import transformers
    import trl

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "trl": trl.__version__,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path
