"""Benchmark: the ``scripted`` Crafter teacher over many seeds.

Runs the real ``crafter`` environment plugin with the real ``scripted`` policy (as ``vlmforge
eval`` would, minus the trace store), one episode per seed, in at most 2 worker processes.
Prints JSON and a table: mean unique achievements per episode (+ s.e.), per-achievement success
rates, Crafter score, BALROG progression, episode lengths and how episodes ended.

    .venv/bin/python benchmarks/scripted_teacher.py --seeds 0-19 --max-steps 10000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from multiprocessing import Pool
from typing import Any

from _common import add_smoke_flag  # benchmarks/ is on sys.path as a script

from vlmforge import metrics
from vlmforge.seeds import format_seeds, parse_seeds


def run_episode(args: tuple[int, int]) -> dict[str, Any]:
    """One episode through the env and policy plugins; returns its summary."""
    from vlmforge_crafter.config import CrafterConfig
    from vlmforge_crafter.env import CrafterEnvironment
    from vlmforge_crafter.teacher.policy import ScriptedPolicy

    seed, max_steps = args
    env = CrafterEnvironment(CrafterConfig(max_steps=max_steps, observation="text_only"))
    spec = env.spec()
    policy = ScriptedPolicy()

    async def play() -> dict[str, Any]:
        episode_policy = await policy.start_episode(spec, seed)
        episode = env.start(seed)
        obs = episode.reset()
        decisions, achievements, termination, env_steps = 0, [], None, 0
        started = time.perf_counter()
        while True:
            decision = await episode_policy.act(obs)
            outcome = episode.step(decision.tool_calls)
            decisions += 1
            achievements += outcome.achievements
            env_steps = outcome.info["env_steps"]
            obs = outcome.observation
            if outcome.done:
                termination = outcome.termination
                break
        return {
            "seed": seed,
            "env_steps": env_steps,
            "decisions": decisions,
            "termination": termination,
            "achievements": achievements,
            "unique": len(set(achievements)),
            "final_vitals": {
                k: obs.ground_truth["inventory"][k] for k in ("health", "food", "drink", "energy")
            },
            "seconds": round(time.perf_counter() - started, 2),
        }

    return asyncio.run(play())


def summarize(episodes: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    rates = metrics.success_rates([e["achievements"] for e in episodes], names)
    uniques = [e["unique"] for e in episodes]
    mean_u, sem_u = metrics.mean_and_sem([float(u) for u in uniques])
    prog, prog_se = metrics.progression(uniques, len(names))
    lengths = [e["env_steps"] for e in episodes]
    ends: dict[str, int] = {}
    starved = 0
    for e in episodes:
        ends[e["termination"]] = ends.get(e["termination"], 0) + 1
        vitals = e["final_vitals"]
        if e["termination"] == "death" and min(vitals["food"], vitals["drink"]) == 0:
            starved += 1
    return {
        "episodes": len(episodes),
        "mean_unique_achievements": round(mean_u, 2),
        "sem_unique_achievements": round(sem_u, 2),
        "crafter_score": round(metrics.crafter_score(rates), 2),
        "balrog_progression": round(prog, 2),
        "balrog_progression_se": round(prog_se, 2),
        "success_rates": {k: round(v, 1) for k, v in rates.items()},
        "episode_length_median": statistics.median(lengths),
        "episode_length_mean": round(statistics.fmean(lengths), 1),
        "episode_length_min": min(lengths),
        "episode_length_max": max(lengths),
        "terminations": ends,
        "deaths_with_food_or_drink_at_0": starved,
        "decisions_total": sum(e["decisions"] for e in episodes),
        "actions_per_decision": round(
            sum(lengths) / max(1, sum(e["decisions"] for e in episodes)), 2
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--max-steps", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json-out", default=None, help="Also write the JSON here.")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.max_steps, args.workers = "0", 20, 1
    seeds = parse_seeds(args.seeds)
    workers = max(1, min(args.workers, 2))

    import crafter

    names = list(crafter.constants.achievements)
    started = time.perf_counter()
    jobs = [(s, args.max_steps) for s in seeds]
    if workers == 1:
        episodes = [run_episode(j) for j in jobs]
    else:
        with Pool(workers) as pool:
            episodes = pool.map(run_episode, jobs, chunksize=1)
    wall = time.perf_counter() - started
    summary = summarize(episodes, names)
    result = {
        "benchmark": "scripted_teacher",
        "seeds": format_seeds(seeds),
        "max_steps": args.max_steps,
        "workers": workers,
        "wall_seconds": round(wall, 1),
        "env_steps_per_second": round(sum(e["env_steps"] for e in episodes) / wall, 1),
        **summary,
        "per_episode": episodes,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            fh.write(text + "\n")
    _table(result, names)


def _table(result: dict[str, Any], names: list[str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a core dependency
        return
    table = Table(title=f"scripted teacher, seeds {result['seeds']}, cap {result['max_steps']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row(
        "unique achievements / episode",
        f"{result['mean_unique_achievements']} ± {result['sem_unique_achievements']}",
    )
    table.add_row("Crafter score (%)", str(result["crafter_score"]))
    table.add_row(
        "BALROG progression (%)",
        f"{result['balrog_progression']} ± {result['balrog_progression_se']}",
    )
    table.add_row(
        "episode length (median, min-max)",
        f"{result['episode_length_median']} ({result['episode_length_min']}-"
        f"{result['episode_length_max']})",
    )
    table.add_row("terminations", json.dumps(result["terminations"]))
    for name in names:
        table.add_row(f"  {name}", f"{result['success_rates'][name]:.0f}%")
    Console(stderr=True).print(table)


if __name__ == "__main__":
    main()
