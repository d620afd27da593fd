"""Benchmark: eval steps/s with the episodes on Ray actors vs ``env_workers`` vs one process.

The same eval (Crafter, the random policy, ``--episodes`` seeds of ``--max-steps`` steps,
SQLite store) played three ways on this machine:

- ``local``: in the eval process, ``concurrency = 2``;
- ``env_workers``: ``env_workers = 2``, ``concurrency = 8``;
- ``ray``: ``[ray] workers = 2`` on a local Ray cluster (each actor builds its environment,
  policy and store and plays one episode at a time, writing the store itself).

Steps/s is the run's own (env steps / the runner's wall time); for Ray the cluster start (once
per process) and the actors' start (once per run) are reported separately. Also reported: the
per-step costs a multi-host estimate needs (docs/scale.md): the env step and policy latency
medians, and the store's write time per step (benchmarks/store_write.py).

Run: ``.venv/bin/python benchmarks/ray_scale.py [--episodes 8] [--max-steps 200] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import add_smoke_flag, median, report

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _config(db: Path, episodes: int, max_steps: int, mode: str) -> Any:
    from vlmforge.eval_config import EvalConfig

    doc: dict[str, Any] = {
        "run_name": mode,
        "seeds": f"0-{episodes - 1}",
        "max_steps": max_steps,
        "env": {"name": "crafter"},
        "policy": {"name": "random"},
        "store": {"name": "sqlite", "path": str(db)},
    }
    if mode == "local":
        doc["concurrency"] = 2
    elif mode == "env_workers":
        doc |= {"env_workers": 2, "concurrency": 8}
    else:
        doc["ray"] = {"workers": 2}
    return EvalConfig.model_validate(doc)


def play(tmp: Path, episodes: int, max_steps: int, mode: str, r: int) -> dict[str, float]:
    from vlmforge.eval_session import EvalSession

    started = time.perf_counter()
    results = EvalSession(_config(tmp / f"{mode}{r}.db", episodes, max_steps, mode)).run()
    total = time.perf_counter() - started
    summary = results.runs[0].summary or {}
    return {
        "steps_per_s": float(summary["steps_per_s"]),
        "run_wall_s": float(summary["wall_time_s"]),
        "session_wall_s": total,
        "env_latency_p50_ms": 1000 * float(summary["env_latency_p50_s"]),
        "policy_latency_p50_ms": 1000 * float(summary["policy_latency_p50_s"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.episodes, args.max_steps, args.repeats = 2, 5, 1
    import ray

    load = os.getloadavg()[0]
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    cluster_start_s = time.perf_counter() - started
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in ("local", "env_workers", "ray"):
                rounds = [
                    play(Path(tmp), args.episodes, args.max_steps, mode, r)
                    for r in range(args.repeats)
                ]
                results[mode] = {k: median([x[k] for x in rounds]) for k in rounds[0]} | {
                    "rounds": rounds
                }
    finally:
        ray.shutdown()
    doc = {
        "episodes": args.episodes,
        "max_steps": args.max_steps,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "ray_cluster_start_s": cluster_start_s,
        "load_average_1m_at_start": load,
        "load_average_1m_at_end": os.getloadavg()[0],
        **results,
    }
    rows = [(f"{mode} steps/s", f"{results[mode]['steps_per_s']:.1f}") for mode in results]
    rows += [
        (f"{mode} session wall s", f"{results[mode]['session_wall_s']:.1f}") for mode in results
    ]
    rows += [
        ("ray cluster start s", f"{cluster_start_s:.1f}"),
        ("env step p50 ms (local)", f"{results['local']['env_latency_p50_ms']:.2f}"),
        ("load average (1 min) start / end", f"{load:.1f} / {os.getloadavg()[0]:.1f}"),
    ]
    report("ray_scale", doc, rows)


if __name__ == "__main__":
    main()
