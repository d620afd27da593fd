"""Env steps/s through ``vlmforge serve``: in-process vs one server vs two servers, same run.

Every mode drives the ``crafter`` environment with the same seeded tool calls (one primitive
action per decision, the worst case for per-request overhead) from ``concurrency`` client threads,
as the eval runner does:

- ``in-process``: ``--env crafter`` in this process;
- ``1 server``: ``--env remote`` against one ``vlmforge serve`` process on loopback;
- ``2 servers``: ``--env remote`` spreading episodes over two server processes.

Besides wall-clock steps/s (which depend on what else the machine runs), it reports the CPU time
per step summed over the client and the server processes: the cost of serving, independent of
other load. Episode starts (world generation) are outside the timed loop; a step that ends an
episode starts the next one, inside it. Modes alternate within each repetition and medians are
reported, so load from other processes affects every mode alike. Output: a JSON object and a table.

    .venv/bin/python benchmarks/serve_throughput.py [--steps 300] [--reps 3] [--concurrency 1 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from _common import add_smoke_flag  # benchmarks/ is on sys.path as a script

from vlmforge.plugins import get_registry
from vlmforge.trace import FunctionCall, ToolCall
from vlmforge_crafter.config import ACTION_NAMES

URL_LINE = re.compile(r"on (http://127\.0\.0\.1:\d+) \(worker")


def start_server(*serve_args: str) -> tuple[subprocess.Popen[str], str]:
    """``vlmforge serve SERVE_ARGS`` (default ``--env crafter``) on a free port; (process, URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    serve_args = serve_args or ("--env", "crafter")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlmforge", "serve", *serve_args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = URL_LINE.search(line)
        if match:
            url = match.group(1)
            break
    else:
        raise RuntimeError("vlmforge serve exited before printing its URL")
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never became healthy")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def calls(seed: int, n: int) -> list[list[ToolCall]]:
    rng = random.Random(seed)
    pool = [a for a in ACTION_NAMES if a.startswith("move_")] + ["do", "noop"]
    return [
        [
            ToolCall(
                id=f"call_{i}",
                function=FunctionCall(
                    name="interact", arguments=json.dumps({"action": rng.choice(pool)})
                ),
            )
        ]
        for i in range(n)
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(env: Any, concurrency: int, steps: int, pids: list[int]) -> tuple[float, float, float]:
    """(steps per second, client CPU ms per step, servers' CPU ms per step) over
    ``concurrency`` threads, ``steps`` decisions each. CPU time does not depend on other load."""
    barrier = threading.Barrier(concurrency + 1)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            plan = calls(k, steps)
            seed = 1000 * k
            episode = env.start(seed)
            episode.reset()
            barrier.wait()
            for tool_calls in plan:
                if episode.step(tool_calls).done:
                    episode.close()
                    seed += 1
                    episode = env.start(seed)
                    episode.reset()
            episode.close()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    client0, server0 = time.process_time(), sum(cpu_seconds(p) for p in pids)
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    client = time.process_time() - client0
    server = sum(cpu_seconds(p) for p in pids) - server0
    if errors:
        raise errors[0]
    total = concurrency * steps
    return total / elapsed, 1000 * client / total, 1000 * server / total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="decisions per client thread")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.reps, args.concurrency = 3, 1, [1]

    registry = get_registry()
    servers = [start_server(), start_server()]
    try:
        urls = [url for _, url in servers]
        pids = [proc.pid for proc, _ in servers]
        envs = {
            "in-process": (registry.create("environment", "crafter", {}), []),
            "1 server": (
                registry.create("environment", "remote", {"env_urls": urls[:1]}),
                pids[:1],
            ),
            "2 servers": (registry.create("environment", "remote", {"env_urls": urls}), pids),
        }
        for env, env_pids in envs.values():
            drive(env, 1, 20, env_pids)  # warm-up: imports, numba cache, connections
        samples: dict[tuple[str, int], list[float]] = {}
        cpu: dict[tuple[str, int], list[float]] = {}
        client_cpu: dict[tuple[str, int], list[float]] = {}
        server_cpu: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.reps):
            for concurrency in args.concurrency:
                for mode, (env, env_pids) in envs.items():
                    key = (mode, concurrency)
                    rate, client_ms, server_ms = drive(env, concurrency, args.steps, env_pids)
                    samples.setdefault(key, []).append(rate)
                    cpu.setdefault(key, []).append(client_ms + server_ms)
                    client_cpu.setdefault(key, []).append(client_ms)
                    server_cpu.setdefault(key, []).append(server_ms)
    finally:
        for proc, _ in servers:
            stop(proc)

    rows = []
    for (mode, concurrency), rates in samples.items():
        base = statistics.median(samples[("in-process", concurrency)])
        median = statistics.median(rates)
        rows.append(
            {
                "mode": mode,
                "concurrency": concurrency,
                "steps_per_s": round(median, 1),
                "vs_in_process": round(median / base, 3),
                "ms_per_step_per_client": round(1000 * concurrency / median, 2),
                "cpu_ms_per_step": round(statistics.median(cpu[(mode, concurrency)]), 2),
                "client_cpu_ms_per_step": round(
                    statistics.median(client_cpu[(mode, concurrency)]), 2
                ),
                "server_cpu_ms_per_step": round(
                    statistics.median(server_cpu[(mode, concurrency)]), 2
                ),
                "cpu_vs_in_process": round(
                    statistics.median(cpu[(mode, concurrency)])
                    / statistics.median(cpu[("in-process", concurrency)]),
                    2,
                ),
                "samples": [round(r, 1) for r in rates],
            }
        )
    result = {
        "benchmark": "serve_throughput",
        "steps_per_client": args.steps,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    print(json.dumps(result, indent=2))
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return
    table = Table(title="env steps/s (crafter, 64 px, 1 action per decision; medians)")
    columns = ("mode", "clients", "steps/s", "vs in-proc", "CPU ms/step", "client+server")
    for column in columns:
        table.add_column(column, justify="right" if column != "mode" else "left")
    for row in rows:
        table.add_row(
            row["mode"],
            str(row["concurrency"]),
            f"{row['steps_per_s']:.0f}",
            f"{row['vs_in_process']:.2f}x",
            f"{row['cpu_ms_per_step']:.2f} ({row['cpu_vs_in_process']:.1f}x)",
            f"{row['client_cpu_ms_per_step']:.2f} + {row['server_cpu_ms_per_step']:.2f}",
        )
    Console(stderr=True).print(table)


if __name__ == "__main__":
    main()
