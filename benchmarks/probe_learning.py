"""Does a tiny model trained on probe rows from this pipeline see anything? (docs/probes.md)

    .venv/bin/python benchmarks/probe_learning.py [--trainer sft|lora-sft] [--workdir DIR]
                                                  [--skip-to STAGE]

Runs, in ``--workdir`` (default ``probe-bench``), exactly the commands of docs/probes.md with the
configs in ``configs/probe_*.toml``: the scripted teacher records frames (training seeds 0-11,
held-out seeds 100-103, 128 px), ``probe-oracle`` answers the probes of 400 training frames,
``vlmforge filter`` exports them, ``vlmforge models tiny`` builds the tiny Qwen2-VL,
``vlmforge train`` trains it (``--trainer lora-sft``: configs/probe_train_tiny.toml, the
default; ``sft``: configs/probe_train_sft_tiny.toml, full fine-tuning), and the trained model
(``hf``, ``decoding = "score"``) and ``probe-random`` answer the probes of 120 held-out frames.
Prints JSON and a table: per probe type the trained model's accuracy with its 95% interval, chance,
the training set's most frequent answer applied to the held-out frames ("prior"), and
whether the interval lies above each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
VLMFORGE = [sys.executable, "-m", "vlmforge"]

TRAIN = {"lora-sft": "probe_train_tiny.toml", "sft": "probe_train_sft_tiny.toml"}
HELDOUT = {"lora-sft": "probe_hf_tiny.toml", "sft": "probe_hf_sft_tiny.toml"}


def stages(trainer: str) -> list[tuple[str, list[str]]]:
    """The commands, in order, for ``trainer``."""
    return [
    ("source", ["eval", "--config", str(CONFIGS / "probe_source_eval.toml")]),
    ("oracle", ["probe", "--config", str(CONFIGS / "probe_oracle.toml"),
                "--json-summary", "probe-work/oracle.json"]),
    ("filter", ["filter", "--config", str(CONFIGS / "probe_filter.toml")]),
    ("model", ["models", "tiny", "--family", "qwen2-vl", "--out", "probe-work/tiny",
               "--tokenizer-corpus", "probe-work/export/train.jsonl", "--overwrite"]),
    ("train", ["train", "--config", str(CONFIGS / TRAIN[trainer])]),
    ("heldout", ["probe", "--config", str(CONFIGS / HELDOUT[trainer]),
                 "--json-summary", "probe-work/heldout.json"]),
    ("random", ["probe", "--config", str(CONFIGS / HELDOUT[trainer]), "--policy",
                "probe-random", "--run-name", "probe-random-heldout",
                "--json-summary", "probe-work/random.json"]),
    ]  # fmt: skip


# --smoke: the data stages at tiny sizes, then stop (the model stages are what
# tests/probes/test_hf.py runs); checks the commands and configs still fit together
SMOKE = {
    "source": ["--seeds", "0-1", "--max-steps", "30", "--concurrency", "2"],
    "oracle": ["--frames", "6", "--episode-seeds", "0-1"],
    "filter": [],
}


def run_stages(
    workdir: Path, trainer: str, skip_to: str | None, smoke: bool = False
) -> dict[str, float]:
    times: dict[str, float] = {}
    started = skip_to is None
    for name, args in stages(trainer):
        started = started or name == skip_to
        if not started or (smoke and name not in SMOKE):
            continue
        args = [*args, *SMOKE[name]] if smoke else args
        t0 = time.perf_counter()
        result = subprocess.run([*VLMFORGE, *args], cwd=workdir, capture_output=True, text=True)
        times[name] = round(time.perf_counter() - t0, 1)
        if result.returncode != 0:
            sys.exit(f"stage {name} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return times


def _report(path: Path) -> dict[str, Any]:
    (report,) = json.loads(path.read_text())["reports"]
    return report


def compare(workdir: Path) -> list[dict[str, Any]]:
    """Per type: the trained model on held-out frames against chance and the training prior."""
    work = workdir / "probe-work"
    train = {r["type"]: r for r in _report(work / "oracle.json")["types"]}
    random_rows = {r["type"]: r for r in _report(work / "random.json")["types"]}
    rows = []
    for row in _report(work / "heldout.json")["types"]:
        prior_answer = train[row["type"]]["majority_answer"]
        prior = row["answers"].get(prior_answer, 0) / row["n"]
        rows.append(
            {
                "type": row["type"],
                "n": row["n"],
                "accuracy": row["accuracy"],
                "ci95": row["ci95"],
                "chance": row["chance"],
                "random_answerer": random_rows[row["type"]]["accuracy"],
                "prior": prior,
                "prior_answer": prior_answer,
                "beats_chance": row["ci95"][0] > row["chance"],
                "beats_prior": row["ci95"][0] > prior,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="probe-bench")
    parser.add_argument("--trainer", choices=sorted(TRAIN), default="lora-sft")
    parser.add_argument("--skip-to", choices=[s for s, _ in stages("sft")], default=None)
    parser.add_argument(
        "--smoke", action="store_true",
        help="the data stages at tiny sizes only (checks the script runs; no model, no table)",
    )  # fmt: skip
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    times = run_stages(workdir, args.trainer, args.skip_to, args.smoke)
    if args.smoke:
        oracle = _report(workdir / "probe-work" / "oracle.json")
        if oracle["overall"]["accuracy"] != 1.0:  # the oracle answers from the ground truth
            sys.exit(f"the oracle scored {oracle['overall']['accuracy']:.1%}, not 100%")
        print(json.dumps({"benchmark": "probe_learning", "smoke": True, "stage_seconds": times,
                          "oracle_accuracy": oracle["overall"]["accuracy"]}, indent=2))  # fmt: skip
        return
    rows = compare(workdir)
    doc = {
        "trainer": args.trainer,
        "stage_seconds": times,
        "types": rows,
        "beats_chance": sum(r["beats_chance"] for r in rows),
        "beats_prior": sum(r["beats_prior"] for r in rows),
    }
    print(json.dumps(doc, indent=2))
    print(f"\n{'type':26} {'n':>4} {'acc':>6} {'95% interval':>15} {'chance':>7} "
          f"{'random':>7} {'prior':>6}  above chance / prior")  # fmt: skip
    for r in rows:
        low, high = r["ci95"]
        print(
            f"{r['type']:26} {r['n']:4d} {r['accuracy']:6.1%} [{low:5.1%}, {high:6.1%}] "
            f"{r['chance']:7.1%} {r['random_answerer']:7.1%} {r['prior']:6.1%}  "
            f"{'yes' if r['beats_chance'] else 'no'} / {'yes' if r['beats_prior'] else 'no'}"
        )
    print(f"\nabove chance on {doc['beats_chance']} types, above the prior on "
          f"{doc['beats_prior']} of {len(rows)}; stage seconds {times}")  # fmt: skip


if __name__ == "__main__":
    main()
