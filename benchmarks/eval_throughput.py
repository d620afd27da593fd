"""Benchmark (a): eval pipeline steps/s and CPU per step vs the raw crafter loop, same process.

Loops, interleaved ``--repeats`` times (each repeat plays every loop on the same fresh seeds),
medians reported:

- raw: ``crafter.Env.step`` with random action indices (the game alone, 64 px frames rendered);
- env: the ``crafter`` plugin's episode (text + ground truth + PNG frame) with random tool calls
  (its game is ``vlmforge_crafter.games.Game``: the same worlds and frames as ``crafter.Env``,
  generated and drawn faster, so this loop can beat the raw one);
- pipeline: the library's ``vlmforge.session`` (``describe_run``, ``open_run``, ``play``) with
  the ``random`` policy and the ``sqlite`` store (a fresh file): everything ``vlmforge eval``
  does but the terminal output, one episode in flight (like the raw loop), in this process;
  the same with ``--frames-dir`` (a PNG file per step); and the same with ``--env-workers``
  processes and ``--concurrency`` episodes in flight.

Targets (issue 19): pipeline >= 0.8x raw steps/s and <= 1.3x raw CPU per step (one process);
``N`` env workers >= 0.8 x N x the one-process pipeline. Because the plugin's game is faster than
crafter's own, the pipeline is also compared with the plugin's env loop (what the runner, the
policy and the store add on top of the environment). Every ratio is taken within a repeat
(same minutes, same seeds), then the median over repeats; the load average is printed with it.
``--profile PATH`` writes a cProfile of one more in-process pipeline run (pstats; the event loop
thread, where the random policy, the runner and the in-process env run); for every thread use
py-spy: ``py-spy record --gil -f raw -o out.txt -- python benchmarks/eval_throughput.py``.
Run: ``.venv/bin/python benchmarks/eval_throughput.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import add_smoke_flag, median, report  # benchmarks/ is on sys.path as a script

# Each loop plays the same seeds with the same cap (episodes end on death or at the cap), world
# generation (reset) included, and reports env steps per second of wall time.


def raw_loop(seeds: list[int], cap: int) -> float:
    import crafter

    from vlmforge_crafter.determinism import make_deterministic

    total, t = 0, time.perf_counter()
    for seed in seeds:
        env = crafter.Env(seed=seed)
        make_deterministic(env)
        env.reset()
        rng = random.Random(seed)
        for _ in range(cap):
            _, _, done, _ = env.step(rng.randrange(17))
            total += 1
            if done:
                break
    return total / (time.perf_counter() - t)


def env_loop(registry, seeds: list[int], cap: int) -> float:
    from vlmforge.trace import FunctionCall, ToolCall

    env = registry.create("environment", "crafter", {"max_steps": cap})
    names = env.spec().action_names
    total, t = 0, time.perf_counter()
    for seed in seeds:
        rng = random.Random(seed)
        episode = env.start(seed)
        episode.reset()
        while True:
            args = json.dumps({"action": rng.choice(names)})
            call = ToolCall(id="c", function=FunctionCall(name="interact", arguments=args))
            out = episode.step([call])
            total += len(out.actions)
            if out.done:
                break
    return total / (time.perf_counter() - t)


def pipeline(
    registry,
    seeds: list[int],
    cap: int,
    workdir: Path,
    frames_dir: bool = True,
    env=None,
    concurrency: int = 1,
) -> float:
    """Steps/s of the runner (default: one episode in flight, in-process env, like the raw
    loop); ``env`` may be an :class:`~vlmforge.env_workers.EnvWorkerPool`."""
    from vlmforge.runner import new_id
    from vlmforge.session import describe_run, open_run, play

    env = env or registry.create("environment", "crafter", {"max_steps": cap})
    policy = registry.create("policy", "random", {})
    db = workdir / f"bench-{new_id()}.db"
    store = registry.create("store", "sqlite", {"path": str(db)})
    spec = env.spec()
    run = describe_run(
        db.stem,
        env_name="crafter",
        env=env,
        spec=spec,
        policy_name="random",
        policy=policy,
        seeds=seeds,
    )
    opened = open_run(store, run, resume=False)
    result = asyncio.run(
        play(
            opened,
            env=env,
            spec=spec,
            policy=policy,
            store=store,
            concurrency=concurrency,
            frames_dir=workdir / f"frames-{run.id}" if frames_dir else None,
        )
    )
    store.close()
    assert all(e.status.value == "done" for e in result.episodes), "an episode failed"
    return sum(e.env_steps for e in result.episodes) / result.wall_time_s


def timed(loop: Callable[..., float], *args: Any, **kwargs: Any) -> tuple[float, float]:
    """(steps/s of wall time, ms of this process's CPU per step) of one loop."""
    wall, cpu = time.perf_counter(), time.process_time()
    rate = loop(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return rate, 1000.0 * cpu / (rate * wall)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--cap", type=int, default=500, help="max env steps per episode")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--env-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8, help="with --env-workers")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.episodes, args.cap, args.repeats = 2, 15, 1
        args.env_workers, args.concurrency = 1, 2
    from vlmforge.env_workers import EnvBuild, EnvWorkerPool
    from vlmforge.plugins import get_registry

    registry = get_registry()
    env_loop(registry, [999], 20)  # warm-up: imports, numba JIT cache
    pool = EnvWorkerPool(EnvBuild("crafter", {"max_steps": args.cap}), args.env_workers)
    pool.spec()  # started and ready (start-up is not timed: it is once per eval)
    names = ("raw", "env", "pipeline", "pipeline_frames_dir", "pipeline_env_workers")
    rates: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {
        k: [] for k in ("wall", "cpu", "frames", "workers", "env_wall", "env_cpu")
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pipeline(registry, [998], 20, work)  # warm-up: the store's first file
        for r in range(args.repeats):
            seeds = [r * 1000 + i for i in range(args.episodes)]
            runs = {
                "raw": timed(raw_loop, seeds, args.cap),
                "env": timed(env_loop, registry, seeds, args.cap),
                "pipeline": timed(pipeline, registry, seeds, args.cap, work, frames_dir=False),
                "pipeline_frames_dir": timed(pipeline, registry, seeds, args.cap, work),
                "pipeline_env_workers": timed(
                    pipeline,
                    registry,
                    seeds,
                    args.cap,
                    work,
                    frames_dir=False,
                    env=pool,
                    concurrency=args.concurrency,
                ),
            }
            for name, (rate, ms) in runs.items():
                rates[name].append(rate)
                cpu[name].append(ms)
            ratios["wall"].append(runs["pipeline"][0] / runs["raw"][0])
            ratios["cpu"].append(runs["pipeline"][1] / runs["raw"][1])
            ratios["frames"].append(runs["pipeline_frames_dir"][0] / runs["raw"][0])
            ratios["workers"].append(runs["pipeline_env_workers"][0] / runs["pipeline"][0])
            ratios["env_wall"].append(runs["pipeline"][0] / runs["env"][0])
            ratios["env_cpu"].append(runs["pipeline"][1] / runs["env"][1])
        if args.profile is not None:
            profiler = cProfile.Profile()
            profiler.runcall(pipeline, registry, seeds, args.cap, work, frames_dir=False)
            profiler.dump_stats(str(args.profile))
    pool.close()
    workers_target = 0.8 * args.env_workers
    result = {
        "episodes_per_loop": args.episodes,
        "max_steps": args.cap,
        "repeats": args.repeats,
        "steps_per_s": {n: median(v) for n, v in rates.items()},
        "cpu_ms_per_step": {n: median(v) for n, v in cpu.items()},
        "pipeline_vs_raw_steps_per_s": median(ratios["wall"]),
        "pipeline_vs_raw_cpu_per_step": median(ratios["cpu"]),
        "pipeline_frames_dir_vs_raw_steps_per_s": median(ratios["frames"]),
        "pipeline_vs_env_loop_steps_per_s": median(ratios["env_wall"]),
        "pipeline_vs_env_loop_cpu_per_step": median(ratios["env_cpu"]),
        "env_workers": args.env_workers,
        "workers_concurrency": args.concurrency,
        "env_workers_vs_one_process": median(ratios["workers"]),
        "targets": {
            "pipeline_vs_raw_steps_per_s": ">= 0.8",
            "pipeline_vs_raw_cpu_per_step": "<= 1.3",
            "env_workers_vs_one_process": f">= {workers_target:.1f}",
        },
        "samples": {"steps_per_s": rates, "cpu_ms_per_step": cpu, "ratios": ratios},
        "profile": str(args.profile) if args.profile else None,
    }
    w = args.env_workers
    report(
        "eval_throughput",
        result,
        [
            ("raw crafter loop (steps/s, CPU ms/step)", _cell(rates, cpu, "raw")),
            ("crafter plugin env loop", _cell(rates, cpu, "env")),
            ("eval pipeline, in-process, 1 episode", _cell(rates, cpu, "pipeline")),
            ("  ... with --frames-dir", _cell(rates, cpu, "pipeline_frames_dir")),
            (
                f"  ... {w} env workers, concurrency {args.concurrency} (eval process CPU)",
                _cell(rates, cpu, "pipeline_env_workers"),
            ),
            ("pipeline / raw steps/s (target >= 0.8)", f"{median(ratios['wall']):.2f}"),
            ("pipeline / raw CPU per step (target <= 1.3)", f"{median(ratios['cpu']):.2f}"),
            ("with --frames-dir / raw steps/s", f"{median(ratios['frames']):.2f}"),
            ("pipeline / plugin env loop steps/s", f"{median(ratios['env_wall']):.2f}"),
            ("pipeline / plugin env loop CPU per step", f"{median(ratios['env_cpu']):.2f}"),
            (
                f"{w} env workers / in-process (target >= {workers_target:.1f})",
                f"{median(ratios['workers']):.2f}",
            ),
        ],
    )


def _cell(rates: dict[str, list[float]], cpu: dict[str, list[float]], name: str) -> str:
    return f"{median(rates[name]):.0f} steps/s, {median(cpu[name]):.2f} ms"


if __name__ == "__main__":
    main()
