"""Benchmark (a): eval pipeline steps/s vs the raw crafter loop, in the same process.

Three loops, interleaved ``--repeats`` times, medians reported:

- raw: ``crafter.Env.step`` with random action indices (the game alone, frames rendered);
- env: the ``crafter`` plugin's episode (text + ground truth + PNG frame) with random tool calls;
- pipeline: the library's ``vlmforge.session`` (``describe_run``, ``open_run``, ``play``) with
  the ``random`` policy, the ``sqlite`` store (a fresh file) and ``--frames-dir`` on:
  everything ``vlmforge eval`` does but the terminal output, with one episode in flight (like
  the raw loop) in this process; the same without ``--frames-dir``
  (frames in the database only); and the same with ``--env-workers`` processes and
  ``--concurrency`` episodes in flight (the configuration docs/eval.md recommends for speed).

Target: pipeline >= 0.8x raw. The raw loop is one process on one core; with env workers the
pipeline uses the machine's other cores too, so both are reported.
Run: ``.venv/bin/python benchmarks/eval_throughput.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from _common import median, report  # benchmarks/ is on sys.path when run as a script

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--cap", type=int, default=500, help="max env steps per episode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--env-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8, help="with --env-workers")
    args = parser.parse_args()
    from vlmforge.env_workers import EnvBuild, EnvWorkerPool
    from vlmforge.plugins import get_registry

    registry = get_registry()
    env_loop(registry, [999], 20)  # warm-up: imports, numba JIT cache
    pool = EnvWorkerPool(EnvBuild("crafter", {"max_steps": args.cap}), args.env_workers)
    pool.spec()  # started and ready (start-up is not timed: it is once per eval)
    raw, envs, pipes, dbonly, workers = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            seeds = [r * 1000 + i for i in range(args.episodes)]
            raw.append(raw_loop(seeds, args.cap))
            envs.append(env_loop(registry, seeds, args.cap))
            pipes.append(pipeline(registry, seeds, args.cap, Path(tmp)))
            dbonly.append(pipeline(registry, seeds, args.cap, Path(tmp), frames_dir=False))
            workers.append(
                pipeline(
                    registry, seeds, args.cap, Path(tmp), env=pool, concurrency=args.concurrency
                )
            )
    pool.close()
    result = {
        "episodes_per_loop": args.episodes,
        "max_steps": args.cap,
        "repeats": args.repeats,
        "raw_crafter_steps_per_s": median(raw),
        "env_plugin_steps_per_s": median(envs),
        "pipeline_steps_per_s": median(pipes),
        "pipeline_no_frames_dir_steps_per_s": median(dbonly),
        "pipeline_vs_raw": median(pipes) / median(raw),
        "pipeline_no_frames_dir_vs_raw": median(dbonly) / median(raw),
        "pipeline_vs_env_plugin": median(pipes) / median(envs),
        "env_workers": args.env_workers,
        "workers_concurrency": args.concurrency,
        "pipeline_env_workers_steps_per_s": median(workers),
        "pipeline_env_workers_vs_raw": median(workers) / median(raw),
        "samples": {
            "raw": raw,
            "env": envs,
            "pipeline": pipes,
            "pipeline_no_frames_dir": dbonly,
            "pipeline_env_workers": workers,
        },
        "target_pipeline_vs_raw": 0.8,
    }
    report(
        "eval_throughput",
        result,
        [
            ("raw crafter loop (steps/s)", f"{median(raw):.0f}"),
            ("crafter plugin env loop (steps/s)", f"{median(envs):.0f}"),
            ("eval pipeline, sqlite + frames (steps/s)", f"{median(pipes):.0f}"),
            ("eval pipeline, sqlite, no --frames-dir", f"{median(dbonly):.0f}"),
            ("pipeline / raw (one episode, in-process)", f"{result['pipeline_vs_raw']:.2f}"),
            (
                "pipeline without --frames-dir / raw",
                f"{result['pipeline_no_frames_dir_vs_raw']:.2f}",
            ),
            ("pipeline / env plugin", f"{result['pipeline_vs_env_plugin']:.2f}"),
            (
                f"pipeline, {args.env_workers} env workers, concurrency {args.concurrency}",
                f"{median(workers):.0f}",
            ),
            ("  ... / raw (target >= 0.8)", f"{result['pipeline_env_workers_vs_raw']:.2f}"),
        ],
    )


if __name__ == "__main__":
    main()
