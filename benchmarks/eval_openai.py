"""Benchmarks (b) and (d): the openai policy against a loopback server with injected latency.

(b) steps/s of ``vlmforge eval --policy openai`` at ``--latency`` (default 0.1 s) and
``--concurrency`` (default 32) against min(concurrency / latency, raw crafter rate), the raw
crafter loop measured in the same run on episodes of the same length (``--max-steps``; world
generation is part of both). Target: at least 85%. One action per decision
(``interact``), so decisions/s = env steps/s.

(d) peak RSS of that eval process (target < 150 MB) and that torch was never imported; with
``--env-workers N`` also the largest environment worker's peak RSS (crafter runs there).

The server runs in its own process; the eval runs as ``vlmforge eval`` in a child process.
Run: ``.venv/bin/python benchmarks/eval_openai.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import median, report
from eval_throughput import raw_loop

HERE = Path(__file__).resolve().parent


def run_eval(base_url: str, args: argparse.Namespace, workdir: Path, tag: str) -> dict:
    config = workdir / f"{tag}.toml"
    config.write_text(
        f'run_name = "{tag}"\nseeds = "0-{args.episodes - 1}"\nconcurrency = {args.concurrency}\n'
        f"max_steps = {args.max_steps}\nenv_workers = {args.env_workers}\n"
        '[env]\nname = "crafter"\n'
        f'[policy]\nname = "openai"\nmodel = "bench-model"\nbase_url = "{base_url}"\n'
        'api_key_env = ""\nuse_vision = true\nmax_retries = 0\n'
    )
    summary, child = workdir / f"{tag}-summary.json", workdir / f"{tag}-child.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "_eval_child.py"),
            str(child),
            "--",
            "eval",
            "--config",
            str(config),
            "--trace-db",
            str(workdir / f"{tag}.db"),
            "--json-summary",
            str(summary),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=1200,
    )
    if proc.returncode != 0:
        raise SystemExit(f"eval failed:\n{proc.stderr[-3000:]}")
    (run,) = json.loads(summary.read_text())["runs"]
    startup = startup_s(workdir / f"{tag}.db", args.concurrency)
    return run | json.loads(child.read_text()) | {"startup_s": startup}


def startup_s(db: Path, concurrency: int) -> float:
    """Seconds from the first episode's start until the last of the first wave of episodes
    (the first ``concurrency`` to start, one per slot) took its first step: world generation for
    that wave, which only more cores can shorten."""
    from vlmforge_sqlite.store import SqliteStore, SqliteStoreConfig

    store = SqliteStore(SqliteStoreConfig(path=str(db)))
    try:
        episodes = sorted(store.episodes(), key=lambda e: e.started_at)
        t0 = episodes[0].started_at
        wave = episodes[:concurrency]
        firsts = [next(iter(store.steps(e.id))).started_at for e in wave]
    finally:
        store.close()
    return (max(firsts) - t0).total_seconds()


BASELINE = (
    "import resource, crafter, vlmforge_openai.policy, vlmforge_sqlite.store\n"
    "env = crafter.Env(seed=0); env.reset()\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def baseline_rss_mb() -> float:
    """Peak RSS of a process that only imports crafter (numba), openai, peewee and resets once."""
    out = subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--episodes",
        type=int,
        default=128,
        help="4 waves of 32: sustained rate; with 32, one wave whose start-up weighs ~12%%",
    )
    parser.add_argument("--max-steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--env-workers", type=int, default=2, help="the eval's env_workers (0: in-process)"
    )
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_loopback_server.py"), str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = server.stdout.readline().strip()
    raws, rates, rss, runs = [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw_loop([999], 20)  # warm-up
            for r in range(args.repeats):
                # the raw rate for the same workload: episodes of --max-steps, world generation
                # (reset) included, as in the eval
                raws.append(raw_loop([r * 100 + i for i in range(8)], args.max_steps))
                run = run_eval(base_url, args, Path(tmp), f"bench{r}")
                runs.append(run)
                rates.append(run["steps_per_s"])
                rss.append(run["peak_rss_mb"])
    finally:
        server.stdin.close()
        server.wait(10)
    bound = min(args.concurrency / args.latency, median(raws))
    result = {
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "episodes": args.episodes,
        "env_workers": args.env_workers,
        "max_steps": args.max_steps,
        "raw_crafter_steps_per_s": median(raws),
        "ideal_steps_per_s": args.concurrency / args.latency,
        "bound_steps_per_s": bound,
        "eval_steps_per_s": median(rates),
        "ratio_to_bound": median(rates) / bound,
        "target_ratio": 0.85,
        "policy_latency_p50_s": median([r["policy_latency_p50_s"] for r in runs]),
        "first_wave_startup_s": median([r["startup_s"] for r in runs]),
        "peak_rss_mb": max(rss),
        "largest_env_worker_rss_mb": max(r["largest_child_rss_mb"] for r in runs)
        if args.env_workers
        else None,
        "crafter_imported_by_eval_process": any(r["crafter_imported"] for r in runs),
        "import_baseline_rss_mb": baseline_rss_mb(),
        "target_peak_rss_mb": 150,
        "torch_imported": any(r["torch_imported"] for r in runs),
        "transformers_imported": any(r["transformers_imported"] for r in runs),
        "samples": {
            "raw": raws,
            "eval": rates,
            "rss": rss,
            "startup_s": [r["startup_s"] for r in runs],
        },
    }
    report(
        "eval_openai",
        result,
        [
            ("raw crafter loop (steps/s)", f"{median(raws):.0f}"),
            (
                f"concurrency/latency ({args.concurrency}/{args.latency}s)",
                f"{args.concurrency / args.latency:.0f}",
            ),
            ("bound = min of the two", f"{bound:.0f}"),
            ("eval, openai policy (steps/s)", f"{median(rates):.0f}"),
            ("eval / bound (target >= 0.85)", f"{result['ratio_to_bound']:.2f}"),
            ("policy latency p50 (s)", f"{result['policy_latency_p50_s']:.3f}"),
            (
                f"first wave's start-up: {min(args.concurrency, args.episodes)} worlds (s)",
                f"{result['first_wave_startup_s']:.2f}",
            ),
            ("peak RSS of the eval (MB, target < 150)", f"{max(rss):.0f}"),
            (
                f"largest env worker's peak RSS (MB, {args.env_workers} workers)",
                f"{result['largest_env_worker_rss_mb'] or 0:.0f}",
            ),
            (
                "crafter imported by the eval process",
                str(result["crafter_imported_by_eval_process"]),
            ),
            (
                "RSS of the imports alone (crafter+numba, openai)",
                f"{result['import_baseline_rss_mb']:.0f}",
            ),
            ("torch imported", str(result["torch_imported"])),
        ],
    )


if __name__ == "__main__":
    main()
