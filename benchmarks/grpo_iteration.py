"""GRPO on CPU: rollout and update time per iteration, against a LoRA SFT step on the same data.

Records a small teacher export (scripted policy, one action per decision, action-only rows),
builds a tiny Qwen2-VL on it (or uses --model), then

- runs ``--iterations`` GRPO iterations (``--seeds-per-iteration`` x ``--group-size`` episodes of
  ``--max-steps``) and reads each iteration's rollout and update seconds from reward_curve.json;
- runs ``lora-sft`` for ``--sft-steps`` steps of the same batch size on the export.

Reports seconds per iteration (median), per decision played and per decision learned, and the
update's cost per decision relative to a LoRA SFT step's cost per example. Prints JSON and a table.

    .venv/bin/python benchmarks/grpo_iteration.py --iterations 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import add_smoke_flag, report


def vlmforge(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "vlmforge", *args], capture_output=True, text=True)
    if done.returncode != 0:
        command = " ".join(args)
        sys.exit(f"`vlmforge {command}` failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def teacher_export(work: Path, episodes: int = 8, max_steps: int = 300) -> Path:
    (work / "eval.toml").write_text(
        f"""
run_name = "teacher"
seeds = "0-{episodes - 1}"
concurrency = 8
max_steps = {max_steps}
[env]
name = "crafter"
[policy]
name = "scripted"
actions_per_call = 1
rationale = false
[store]
name = "sqlite"
path = "{work / "teacher.db"}"
"""
    )
    vlmforge("eval", "--config", str(work / "eval.toml"))
    (work / "filter.toml").write_text(
        f"""
trace_dbs = ["{work / "teacher.db"}"]
output_dir = "{work / "export"}"
val_fraction = 0.0
progress = false
[rows]
assistant = "tool_calls"
include_tools = false
"""
    )
    vlmforge("filter", "--config", str(work / "filter.toml"))
    return work / "export" / "train.jsonl"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="Start model (default: a tiny one).")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seeds-per-iteration", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--samples", type=int, default=1024, help="samples_per_iteration")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sft-steps", type=int, default=16)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.iterations, args.seeds_per_iteration, args.group_size = 1, 1, 2
        args.max_steps, args.samples, args.batch_size, args.sft_steps = 3, 4, 4, 1
    with tempfile.TemporaryDirectory(prefix="vlmforge-grpo-") as tmp:
        work = Path(tmp)
        dataset = teacher_export(work, *((2, 20) if args.smoke else (8, 300)))
        model = args.model
        if model is None:
            model = str(work / "tiny")
            vlmforge("models", "tiny", "--out", model, "--tokenizer-corpus", str(dataset))
        grpo = work / "grpo.toml"
        grpo.write_text(
            f"""
trainer = "grpo"
model = "{model}"
output_dir = "{work / "rl"}"
seeds_per_iteration = {args.seeds_per_iteration}
group_size = {args.group_size}
iterations = {args.iterations}
max_steps = {args.max_steps}
samples_per_iteration = {args.samples}
batch_size = {args.batch_size}
kl_coef = 0.02
progress = false
[policy]
tools = ["interact_many"]
temperature = 1.5
tools_in_prompt = false
"""
        )
        started = time.perf_counter()
        vlmforge("train", "--config", str(grpo))
        grpo_wall = time.perf_counter() - started
        curve = json.loads((work / "rl" / "reward_curve.json").read_text())["iterations"]
        sft_out = work / "sft"
        (work / "sft.toml").write_text(
            f"""
trainer = "lora-sft"
model = "{model}"
dataset = "{dataset}"
output_dir = "{sft_out}"
batch_size = {args.batch_size}
max_steps = {args.sft_steps}
save_steps = 100000
progress = false
"""
        )
        vlmforge("train", "--config", str(work / "sft.toml"))
        meta = json.loads((sft_out / "metadata.json").read_text())
    rollout = [p["rollout_s"] for p in curve]
    update = [p["update_s"] for p in curve]
    learned = [p["samples_learned"] for p in curve]
    played = [p["samples"] for p in curve]
    sft_per_example = meta["train_runtime_s"] / (args.sft_steps * args.batch_size)
    result: dict[str, Any] = {
        "iterations": len(curve),
        "episodes_per_iteration": args.seeds_per_iteration * args.group_size,
        "grpo_wall_s": round(grpo_wall, 1),
        "rollout_s_median": statistics.median(rollout),
        "update_s_median": statistics.median(update),
        "rollout_ms_per_decision": 1000 * sum(rollout) / sum(played),
        "update_ms_per_decision": 1000 * sum(update) / sum(learned),
        "sft_ms_per_example": 1000 * sft_per_example,
        "update_vs_sft": (sum(update) / sum(learned)) / sft_per_example,
        "decisions_played": [p["samples"] for p in curve],
        "reward_mean": [p["reward_mean"] for p in curve],
    }
    report(
        "grpo_iteration",
        result,
        [
            ("episodes per iteration", str(result["episodes_per_iteration"])),
            ("rollout s / iteration (median)", f"{result['rollout_s_median']:.1f}"),
            ("update s / iteration (median)", f"{result['update_s_median']:.1f}"),
            ("rollout ms / decision played", f"{result['rollout_ms_per_decision']:.1f}"),
            ("update ms / decision learned", f"{result['update_ms_per_decision']:.1f}"),
            ("lora-sft ms / example", f"{result['sft_ms_per_example']:.1f}"),
            ("update / lora-sft per example", f"{result['update_vs_sft']:.2f}x"),
        ],
    )


if __name__ == "__main__":
    main()
