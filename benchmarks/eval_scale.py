"""Scale: decisions/s one eval process sustains at concurrency 64-512, and its CPU per decision.

``vlmforge eval`` (a child process) with the ``openai`` policy against the loopback OpenAI
server (its own process) answering at once (``--latency 0``), on the ``waiting`` test
environment with steps that take no time (``WAITING_STEP_S=0``, text observations), so the eval
process itself (policy, HTTP client, runner, store) is the only limit. For each concurrency
``--waves`` x concurrency episodes of ``--max-steps`` decisions; the concurrencies are played
in turn within each of ``--repeats`` rounds (interleaved), medians reported.

CPU per decision is the eval process's CPU (every thread) minus that of a one-decision eval
run in the same round (its start-up), divided by the decisions. One core then drives at most
1000 / (CPU ms per decision) decisions/s: that, not the server, is the limit to plan with when
scaling past one machine. Run: ``.venv/bin/python benchmarks/eval_scale.py``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import add_smoke_flag, median, report
from eval_openai import HERE, run_eval


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--waves", type=int, default=2, help="episodes = waves x concurrency")
    parser.add_argument("--max-steps", type=int, default=20, help="decisions per episode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0, help="server latency (s)")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.concurrency, args.waves, args.max_steps, args.repeats = [4], 1, 3, 1
    from vlmforge.testing.envs import PLUGINS_DIR

    waiting = {"WAITING_STEP_S": "0", "WAITING_STEPS": str(args.max_steps)}
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_loopback_server.py"), str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    base_url = server.stdout.readline().strip()
    rates: dict[int, list[float]] = {c: [] for c in args.concurrency}
    cpu: dict[int, list[float]] = {c: [] for c in args.concurrency}
    latency: dict[int, list[float]] = {c: [] for c in args.concurrency}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            common = dict(env_name="waiting", plugins_dir=PLUGINS_DIR, use_vision=False)
            for r in range(args.repeats):
                small = run_eval(
                    base_url,
                    work,
                    f"small{r}",
                    episodes=1,
                    concurrency=1,
                    max_steps=1,
                    extra_env={**waiting, "WAITING_STEPS": "1"},
                    **common,  # type: ignore[arg-type]
                )
                for c in args.concurrency:
                    run = run_eval(
                        base_url,
                        work,
                        f"c{c}r{r}",
                        episodes=args.waves * c,
                        concurrency=c,
                        max_steps=args.max_steps,
                        extra_env=waiting,
                        **common,  # type: ignore[arg-type]
                    )
                    decisions = run["decisions"] - small["decisions"]
                    rates[c].append(run["decisions"] / run["wall_time_s"])
                    cpu[c].append(1000.0 * (run["cpu_s"] - small["cpu_s"]) / decisions)
                    latency[c].append(run["policy_latency_p50_s"])
    finally:
        server.stdin.close()
        server.wait(10)
    per_c = {
        str(c): {
            "decisions_per_s": median(rates[c]),
            "eval_cpu_ms_per_decision": median(cpu[c]),
            "one_core_cap_decisions_per_s": 1000.0 / median(cpu[c]),
            "policy_latency_p50_s": median(latency[c]),
        }
        for c in args.concurrency
    }
    result = {
        "latency_s": args.latency,
        "waves": args.waves,
        "max_steps": args.max_steps,
        "repeats": args.repeats,
        "by_concurrency": per_c,
        "samples": {"decisions_per_s": rates, "cpu_ms_per_decision": cpu},
    }
    rows = [
        (
            f"c={c}: decisions/s, CPU ms/decision, p50 latency",
            f"{median(rates[c]):.0f}, {median(cpu[c]):.2f}, {1000 * median(latency[c]):.0f} ms",
        )
        for c in args.concurrency
    ]
    report("eval_scale", result, rows)


if __name__ == "__main__":
    main()
