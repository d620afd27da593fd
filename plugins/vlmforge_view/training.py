"""Training runs: the loss curve of a ``vlmforge train`` output folder (``loss_curve.json``:
``{"train": [{"step", "loss"}], "eval": [{"step", "eval_loss"}]}``) and the reward curve of an
RL run (``reward_curve.json``: ``{"iterations": [{"iteration", "reward_mean", ...}]}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError

LOSS_CURVE = "loss_curve.json"
REWARD_CURVE = "reward_curve.json"
METADATA = "metadata.json"


def _read_json(path: Path, flag: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{flag} {path.parent}: cannot read {path.name} ({exc}).") from None


def _points(data: Any, key: str, x: str, ys: tuple[str, ...], path: Path) -> list[dict[str, Any]]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"--train-dir {path.parent}: {path.name} has no '{key}' list.")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get(x), int | float):
            raise ConfigError(
                f"--train-dir {path.parent}: {path.name} {key}[{n}] has no number '{x}'."
            )
        out.append({k: item[k] for k in (x, *ys) if isinstance(item.get(k), int | float)})
    return out


def load_training_run(folder: Path) -> dict[str, Any]:
    """The curves of one output folder; a folder with neither file is an error."""
    if not folder.is_dir():
        raise ConfigError(f"--train-dir {folder}: not a folder (a `vlmforge train` output_dir).")
    out: dict[str, Any] = {"name": folder.name, "path": str(folder)}
    loss, reward = folder / LOSS_CURVE, folder / REWARD_CURVE
    if not loss.is_file() and not reward.is_file():
        raise ConfigError(
            f"--train-dir {folder}: neither {LOSS_CURVE} (SFT) nor {REWARD_CURVE} (RL) is there; "
            "give the output_dir of a finished `vlmforge train` run."
        )
    if loss.is_file():
        data = _read_json(loss, "--train-dir")
        out["loss"] = {
            "train": _points(data, "train", "step", ("loss", "learning_rate"), loss),
            "eval": _points(data, "eval", "step", ("eval_loss",), loss)
            if isinstance(data, dict) and "eval" in data
            else [],
        }
    if reward.is_file():
        data = _read_json(reward, "--train-dir")
        keys = ("reward_mean", "reward_min", "reward_max", "unique_achievements_mean", "kl", "loss")
        out["reward"] = _points(data, "iterations", "iteration", keys, reward)
    meta = folder / METADATA
    if meta.is_file():
        data = _read_json(meta, "--train-dir")
        out["trainer"] = data.get("trainer") if isinstance(data, dict) else None
    return out
