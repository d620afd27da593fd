"""Provider overhead: calls/s of the `openai` policy against the loopback OpenAI server.

Each configuration runs ``concurrency`` episodes at once through one ``openai`` policy (the real
``openai`` client, prompt building with a 64x64 frame, reply parsing, attempt recording) against
:class:`vlmforge.testing.openai_server.OpenAIServer` answering every request with a tool call
after an injected latency. Reported: calls/s (median of ``--repeats``), per-call latency seen by
the policy, and at non-zero latency the efficiency ``calls/s / (concurrency / latency)``.

Target: at 100 ms latency and concurrency 32, efficiency >= 0.85.

    .venv/bin/python benchmarks/provider_overhead.py            # JSON, then a table
    .venv/bin/python benchmarks/provider_overhead.py --duration 1 --repeats 1   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from _common import add_smoke_flag  # benchmarks/ is on sys.path as a script

from vlmforge.components import EnvSpec, Observation
from vlmforge.images import encode_png
from vlmforge.prompting import PromptHistory, to_openai
from vlmforge.testing.openai_server import OpenAIServer, Reply, serve_in_subprocess
from vlmforge.trace import Attempt
from vlmforge_openai.config import OpenAIPolicyConfig
from vlmforge_openai.policy import OpenAIPolicy, request_body
from vlmforge_openai.reply import parse_completion

TARGET_EFFICIENCY = 0.85
KEY_ENV = "VLMFORGE_BENCH_KEY"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "interact_many",
            "parameters": {
                "type": "object",
                "properties": {"actions": {"type": "array", "items": {"type": "string"}}},
                "required": ["actions"],
            },
        },
    }
]


def make_spec() -> EnvSpec:
    return EnvSpec(
        name="bench",
        tools=TOOLS,
        system_prompt="You play a game. Call interact_many with 1-4 actions.",
        action_names=["noop", "move_left", "move_right", "do"],
        max_actions_per_call=4,
    )


def make_observations(n: int = 16) -> list[Observation]:
    rng = np.random.default_rng(0)
    return [
        Observation(
            text=f"step {i}: grass to the north, tree 3 steps west. inventory: wood 1, sapling 2.",
            images=[encode_png(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))],
        )
        for i in range(n)
    ]


async def measure(policy: OpenAIPolicy, concurrency: int, duration: float) -> dict[str, float]:
    """Run ``concurrency`` episodes for ``duration`` seconds; calls/s and policy-side latency."""
    spec = make_spec()
    observations = make_observations()
    latencies: list[float] = []
    deadline = time.perf_counter() + duration

    async def worker(seed: int) -> int:
        episode = await policy.start_episode(spec, seed)
        done = 0
        while time.perf_counter() < deadline:
            decision = await episode.act(observations[done % len(observations)])
            if not decision.tool_calls:
                raise RuntimeError(f"benchmark reply had no tool call: {decision.error}")
            latencies.append(decision.lm_call.latency_s)
            done += 1
        return done

    started, cpu_started = time.perf_counter(), time.process_time()
    counts = await asyncio.gather(*(worker(s) for s in range(concurrency)))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    calls = sum(counts)
    return {
        "calls": calls,
        "wall_s": wall,
        "calls_per_s": calls / wall,
        "cpu_ms_per_call": 1000 * cpu / max(1, calls),
        "cpu_share": cpu / wall,
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * float(np.percentile(latencies, 95)),
    }


@contextlib.contextmanager
def server_url(latency_s: float, mode: str) -> Iterator[str]:
    """The loopback server's base URL: in a child process (default) or a thread of this one."""
    arguments = {"actions": ["move_left", "do"]}
    if mode == "process":
        with serve_in_subprocess(latency_s=latency_s, arguments=arguments) as url:
            yield url
        return
    reply = Reply.tool_call("interact_many", arguments)
    with OpenAIServer(default=reply, latency_s=latency_s, record=False) as server:
        yield server.base_url


async def run_config(
    latency_s: float, concurrency: int, duration: float, repeats: int, mode: str, http: str
) -> dict[str, Any]:
    with server_url(latency_s, mode) as url:
        config = OpenAIPolicyConfig(
            model="gpt-4o-mini", base_url=url, api_key_env=KEY_ENV, max_retries=0, http_client=http
        )
        policy = OpenAIPolicy(config)
        try:
            await measure(policy, concurrency, min(0.5, duration))  # warm up connections
            runs = [await measure(policy, concurrency, duration) for _ in range(repeats)]
        finally:
            await policy.aclose()
    rate = statistics.median(r["calls_per_s"] for r in runs)
    result: dict[str, Any] = {
        "latency_ms": round(latency_s * 1000),
        "concurrency": concurrency,
        "calls_per_s": round(rate, 1),
        "calls_per_s_runs": [round(r["calls_per_s"], 1) for r in runs],
        "latency_p50_ms": round(statistics.median(r["latency_p50_ms"] for r in runs), 2),
        "latency_p95_ms": round(statistics.median(r["latency_p95_ms"] for r in runs), 2),
        "calls": sum(int(r["calls"]) for r in runs),
        # CPU time of this (client) process per call, and the fraction of one core it got:
        # on a shared machine a low share, not the code, caps calls/s.
        "client_cpu_ms_per_call": round(statistics.median(r["cpu_ms_per_call"] for r in runs), 3),
        "client_cpu_share": round(statistics.median(r["cpu_share"] for r in runs), 2),
    }
    if latency_s > 0:
        ideal = concurrency / latency_s
        result["ideal_calls_per_s"] = round(ideal, 1)
        result["efficiency"] = round(rate / ideal, 3)
        result["overhead_ms_per_call"] = round(result["latency_p50_ms"] - latency_s * 1000, 2)
    return result


def own_cpu_ms_per_call(n: int = 2000) -> float:
    """CPU ms per call of the policy's own work, without HTTP: history, prompt, wire format,
    request body JSON, reply parsing, Decision and LMCall records."""
    policy = OpenAIPolicy(
        OpenAIPolicyConfig(api_key_env=KEY_ENV, base_url="http://127.0.0.1:9/v1", max_retries=0)
    )
    spec, observations, history = make_spec(), make_observations(), PromptHistory()
    reply_json = json.dumps(
        {
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_0",
                                "type": "function",
                                "function": {
                                    "name": "interact_many",
                                    "arguments": '{"actions": ["move_left", "do"]}',
                                },
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        }
    )
    started = time.process_time()
    for i in range(n):
        obs = observations[i % len(observations)]
        prompt = history.build(spec, obs)
        params = policy.request_params(spec)
        json.dumps(request_body(to_openai(prompt, history.images(obs)), spec.tools, params))
        received = parse_completion(json.loads(reply_json))
        attempt = Attempt(attempt=1, status=200, latency_s=0.1)
        decision = policy._decision(received, prompt, params, [attempt], 0.1, i)
        history.record(prompt[-1], decision.reply, decision.tool_calls, obs.images)
    return 1000 * (time.process_time() - started) / n


def print_table(results: list[dict[str, Any]]) -> None:
    headers = [
        "latency",
        "conc",
        "calls/s",
        "ideal",
        "efficiency",
        "p50 ms",
        "p95 ms",
        "cpu ms/call",
        "cpu share",
    ]
    rows = [
        [
            f"{r['latency_ms']} ms",
            str(r["concurrency"]),
            f"{r['calls_per_s']:.1f}",
            f"{r.get('ideal_calls_per_s', float('nan')):.0f}" if r["latency_ms"] else "-",
            f"{r['efficiency']:.1%}" if "efficiency" in r else "-",
            f"{r['latency_p50_ms']:.1f}",
            f"{r['latency_p95_ms']:.1f}",
            f"{r['client_cpu_ms_per_call']:.2f}",
            f"{r['client_cpu_share']:.2f}",
        ]
        for r in results
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain fallback
        print(" | ".join(headers))
        for row in rows:
            print(" | ".join(row))
        return
    table = Table(title="openai policy vs loopback server")
    for h in headers:
        table.add_column(h, justify="right")
    for row in rows:
        table.add_row(*row)
    Console(file=sys.stdout).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per config")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 100])
    parser.add_argument(
        "--server",
        choices=["process", "thread"],
        default="process",
        help="run the loopback server in a child process (default; like a real remote server) "
        "or in a thread of the benchmark process (shares the GIL with the client)",
    )
    parser.add_argument(
        "--http-client",
        choices=["direct", "aiohttp", "httpx"],
        default="direct",
        help="the policy's http_client setting (default: the policy's default, direct)",
    )
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.repeats, args.concurrency, args.latency_ms = 0.3, 1, [2], [0.0]
    os.environ.setdefault(KEY_ENV, "sk-bench-not-a-real-key")
    load_at_start = [round(x, 2) for x in os.getloadavg()]

    results = [
        asyncio.run(
            run_config(
                latency / 1000, c, args.duration, args.repeats, args.server, args.http_client
            )
        )
        for latency in args.latency_ms
        for c in args.concurrency
    ]
    target = next((r for r in results if r["latency_ms"] == 100 and r["concurrency"] == 32), None)
    summary: dict[str, Any] = {
        "benchmark": "provider_overhead",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "server": args.server,
        "http_client": args.http_client,
        "duration_s": args.duration,
        "repeats": args.repeats,
        "results": results,
        "policy_own_cpu_ms_per_call": round(own_cpu_ms_per_call(), 3),
    }
    if target is not None:
        summary["target"] = {
            "config": "100 ms latency, concurrency 32",
            "required_efficiency": TARGET_EFFICIENCY,
            "efficiency": target["efficiency"],
            "met": target["efficiency"] >= TARGET_EFFICIENCY,
        }
    print(json.dumps(summary, indent=2))
    print_table(results)
    return 0 if target is None or summary["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
