"""The README's main job, timed and checked: `vlmforge pipeline` on its embedded defaults.

Runs the pipeline (or `--config FILE`, e.g. configs/pipeline_rl_demo.toml) in a fresh work
directory, reads its report.json and per-stage times, then checks the trained model on seeds the
pipeline never saw with the eval config it wrote (WORKDIR/configs/eval_sft.toml, the same
decoding), next to the random policy on the same seeds. Prints JSON and a table: wall time,
each row's unique achievements / Crafter score / invalid rate, and the ratios to random that the
learning-loop issue sets (>= 2x unique achievements, >= 3x Crafter score, 0% invalid).

    .venv/bin/python benchmarks/pipeline_demo.py [--config FILE] [--check-seeds 500-529]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import add_smoke_flag, report

CHECK_KEYS = ("episodes", "unique_achievements_mean", "crafter_score_pct", "invalid_decision_rate")


def vlmforge(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vlmforge", *args], check=True)
    return time.perf_counter() - started


def summary(path: Path) -> dict[str, Any]:
    [run] = json.loads(path.read_text())["runs"]
    return run


# --smoke: every stage at tiny sizes (tests/train/test_pipeline.py runs this and checks it)
SMOKE_CONFIG = """
[eval]
seeds = "0-1"
concurrency = 2
max_steps = 20
[eval.env]
name = "crafter"
[eval.policy]
name = "scripted"
actions_per_call = 1
rationale = false
[filter]
val_fraction = 0.5
progress = false
[filter.rows]
assistant = "tool_calls"
include_tools = false
[model]
tiny_family = "qwen2-vl"
vocab_size = 400
[train]
trainer = "sft"
max_steps = 2
batch_size = 4
save_steps = 2
progress = false
[heldout]
seeds = "9-10"
max_steps = 5
concurrency = 2
[heldout.hf]
tools = ["interact_many"]
batch_size = 2
"""


def _ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> str:
    """``a[key] / b[key]`` as ``1.23x``; ``n/a`` when random scored 0 (a tiny run)."""
    return f"{a[key] / b[key]:.2f}x" if b[key] else "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="A pipeline file (default: the demo).")
    parser.add_argument("--check-seeds", default="500-529", help="Unseen seeds for the check.")
    parser.add_argument("--workdir", default=None, help="Keep the work directory here.")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    check_steps = "300"
    with tempfile.TemporaryDirectory(prefix="vlmforge-demo-") as tmp:
        if args.smoke:
            args.config, args.check_seeds, check_steps = str(Path(tmp) / "smoke.toml"), "500", "3"
            Path(args.config).write_text(SMOKE_CONFIG, encoding="utf-8")
        work = Path(args.workdir or Path(tmp) / "demo")
        wall = vlmforge("pipeline", *([args.config] if args.config else []), "--workdir", str(work))
        report_doc = json.loads((work / "report.json").read_text())
        check: dict[str, Any] = {}
        config = work / "configs" / "eval_sft.toml"
        checks = (
            ("sft", ["--config", str(config)]),
            ("random", ["--env", "crafter", "--policy", "random"]),
        )
        for name, extra in checks[:1] if args.smoke else checks:
            out = work / f"check-{name}.json"
            vlmforge("eval", *extra, "--seeds", args.check_seeds, "--max-steps", check_steps,
                     "--concurrency", "30", "--trace-db", str(work / "check.db"),
                     "--run-name", f"check-{name}", "--json-summary", str(out))  # fmt: skip
            check[name] = summary(out)
    rows = {r["name"]: r for r in report_doc["rows"]}
    result: dict[str, Any] = {
        "wall_time_s": round(wall, 1),
        "stage_seconds": report_doc.get("stage_seconds"),
        "heldout_seeds": report_doc["heldout_seeds"],
        "rows": report_doc["rows"],
        "comparisons": report_doc["comparisons"],
        "check_seeds": args.check_seeds,
        "check": {name: {k: s[k] for k in CHECK_KEYS} for name, s in check.items()},
    }
    table = [("wall time (install excluded)", f"{wall:.0f} s")]
    for name, row in rows.items():
        table.append(
            (
                f"held-out {name}",
                f"{row['unique_achievements_mean']:.2f} +- {row['unique_achievements_sem']:.2f} "
                f"unique, Crafter score {row['crafter_score_pct']:.2f}%, "
                f"invalid {100 * row['invalid_decision_rate']:.1f}%",
            )
        )
    for trained in ("sft", "sft+rl"):
        if trained in rows:
            ratio_u = _ratio(rows[trained], rows["random"], "unique_achievements_mean")
            ratio_s = _ratio(rows[trained], rows["random"], "crafter_score_pct")
            table.append((f"{trained} / random", f"{ratio_u} unique, {ratio_s} score"))
    for item in report_doc["comparisons"]:
        if item["difference"] is not None and item["a"] in ("sft", "sft+rl"):
            low, high = item["ci95"]
            table.append(
                (
                    f"{item['a']} - {item['b']} ({item['metric']})",
                    f"{item['difference']:+.2f} [{low:+.2f}, {high:+.2f}]"
                    + (" real" if item["excludes_zero"] else " not significant"),
                )
            )
    for name, s in result["check"].items():
        table.append(
            (
                f"unseen seeds {args.check_seeds}: {name}",
                f"{s['unique_achievements_mean']:.2f} unique, Crafter score "
                f"{s['crafter_score_pct']:.2f}%, invalid {100 * s['invalid_decision_rate']:.1f}%",
            )
        )
    report("pipeline_demo", result, table)


if __name__ == "__main__":
    main()
