"""``vlmforge eval --env remote``: steps/s with a thread per episode in flight vs a per-core cap.

The runner gives an ``io_bound`` environment (``remote``: its calls wait on HTTP) one thread per
episode in flight; an in-process environment gets about one per core (cores + 2). This measures
what that buys: the same eval (random policy, concurrency 32, two ``vlmforge serve`` processes on
loopback) with the environment's ``io_bound`` flag on, then off, alternating per repetition.

- ``crafter``: the servers serve Crafter (60-step episodes); on few cores the CPU is the limit.
- ``delayed``: the servers serve the ``waiting`` test environment
  (:mod:`vlmforge.testing.envs`), whose step sleeps ``--step-delay`` s (a distant or slow
  simulator), in 60-step episodes; the bound is concurrency / delay.

The eval runs as ``vlmforge eval`` in a child process. Output: a JSON object and a table.

    .venv/bin/python benchmarks/eval_remote.py [--repeats 3] [--step-delay 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import add_smoke_flag, median, report
from serve_throughput import start_server, stop

from vlmforge.testing.envs import PLUGINS_DIR

# Runs the CLI with the remote environment's io_bound flag set as given (argv[1]: 0 or 1).
CHILD = (
    "import sys; import vlmforge_serve.remote as r; r.RemoteEnvironment.io_bound = "
    "sys.argv.pop(1) == '1'; sys.argv[0] = 'vlmforge'; from vlmforge.cli import main; main()"
)


def run_eval(
    mode: str, urls: list[str], io_bound: bool, args: argparse.Namespace, work: Path
) -> float:
    summary, db = work / "summary.json", work / "traces.db"
    for path in (summary, db):
        path.unlink(missing_ok=True)
    argv = ["eval", "--env", "remote", "--policy", "random", "--seeds"]
    argv += [f"0-{args.episodes - 1}", "--concurrency", str(args.concurrency)]
    argv += ["--trace-db", str(db), "--json-summary", str(summary)]
    argv += [part for url in urls for part in ("--env-url", url)]
    if mode == "crafter":
        argv += ["--max-steps", "60"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "1" if io_bound else "0", *argv],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vlmforge eval failed:\n{done.stderr[-3000:]}")
    return float(json.loads(summary.read_text())["runs"][0]["steps_per_s"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("crafter", "delayed"), nargs="+")
    parser.add_argument("--step-delay", type=float, default=0.05, help="delayed mode (s)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.mode, args.step_delay = ["delayed"], 0.001
        args.concurrency, args.episodes, args.repeats = 2, 2, 1
    modes = args.mode or ["delayed", "crafter"]
    result: dict[str, object] = {
        "concurrency": args.concurrency,
        "episodes": args.episodes,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "capped_threads": min(args.concurrency, (os.cpu_count() or 2) + 2),
    }
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["WAITING_STEP_S"] = str(args.step_delay)  # read by the waiting env's servers
        os.environ["WAITING_STEPS"] = "60"
        for mode in modes:
            serve_args = ("--env", "crafter")
            if mode == "delayed":
                serve_args = ("--env", "waiting", "--plugins-dir", str(PLUGINS_DIR))
            servers = [start_server(*serve_args), start_server(*serve_args)]
            try:
                urls = [url for _, url in servers]
                samples: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(args.repeats):
                    for io_bound in (False, True):
                        samples[io_bound].append(run_eval(mode, urls, io_bound, args, work))
            finally:
                for proc, _ in servers:
                    stop(proc)
            per_episode, capped = median(samples[True]), median(samples[False])
            entry: dict[str, object] = {
                "thread_per_episode_steps_per_s": round(per_episode, 1),
                "per_core_cap_steps_per_s": round(capped, 1),
                "speedup": round(per_episode / capped, 2),
                "samples": {
                    "thread_per_episode": [round(v, 1) for v in samples[True]],
                    "per_core_cap": [round(v, 1) for v in samples[False]],
                },
            }
            label = mode
            if mode == "delayed":
                bound = args.concurrency / args.step_delay
                entry |= {"step_delay_s": args.step_delay, "bound_steps_per_s": bound}
                entry["vs_bound"] = round(per_episode / bound, 3)
                label = f"delayed {args.step_delay * 1000:g} ms"
                rows.append((f"{label}: bound (concurrency / delay)", f"{bound:.0f}"))
            result[mode] = entry
            rows.append((f"{label}: thread per episode (steps/s)", f"{per_episode:.0f}"))
            rows.append((f"{label}: per-core cap (steps/s)", f"{capped:.0f}"))
    report("eval_remote", result, rows)


if __name__ == "__main__":
    main()
