"""``reward_curve.json`` and ``reward_curve.png``: one point per iteration."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def write_reward_curve(curve: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """The curve as JSON, and a plot of episode reward and unique achievements (mean, min,
    max), KL and loss per iteration."""
    json_path = out_dir / "reward_curve.json"
    json_path.write_text(json.dumps({"iterations": curve}, indent=2) + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [p["iteration"] for p in curve]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), dpi=100)
    for ax, key, title in (
        (axes[0], "reward", "episode reward"),
        (axes[1], "unique_achievements", "unique achievements"),
    ):
        mean = [p[f"{key}_mean"] for p in curve]
        ax.plot(x, mean, marker="o", label="mean")
        ax.fill_between(x, [p[f"{key}_min"] for p in curve], [p[f"{key}_max"] for p in curve],
                        alpha=0.2, label="min-max")  # fmt: skip
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend()
    for key in ("kl", "loss"):
        values = [p.get(key) for p in curve]
        axes[2].plot(x, [math.nan if v is None else v for v in values], marker=".", label=key)
    axes[2].set_title("KL to the start, loss")
    axes[2].set_xlabel("iteration")
    axes[2].grid(alpha=0.3)
    axes[2].legend()
    fig.tight_layout()
    png_path = out_dir / "reward_curve.png"
    fig.savefig(png_path)
    plt.close(fig)
    return [json_path, png_path]
