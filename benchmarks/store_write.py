"""Benchmark: trace-store write rate per step, SQLite vs PostgreSQL.

Each writer records ``--steps`` realistic steps (tests/eval/helpers.make_step: a prompt with the
system prompt, a history turn and an image part, an LM call with attempts, a 16 px frame; a new
frame every 4th step) with the episode's counters, one transaction per step, as the eval runner
does. Measured for one writer and for ``--writers`` processes writing one store at once (their
own episodes, one run). SQLite: a WAL file on the local disk (``synchronous = normal``, the
store's setting). PostgreSQL 15: a server started in a temporary folder with its default
durability (``fsync = on``, ``synchronous_commit = on``), over TCP on 127.0.0.1.

Run: ``.venv/bin/python benchmarks/store_write.py [--steps 2000] [--writers 4] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import add_smoke_flag, median, report

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.eval.helpers import frame, make_episode, make_run, make_step  # noqa: E402
from tests.store.pg_server import PgServer  # noqa: E402


def _open(kind: str, where: str) -> Any:
    if kind == "sqlite":
        from vlmforge_sqlite.store import SqliteStore, SqliteStoreConfig

        return SqliteStore(SqliteStoreConfig(path=where))
    from vlmforge_postgres.config import PostgresStoreConfig
    from vlmforge_postgres.store import PostgresStore

    return PostgresStore(PostgresStoreConfig(dsn=where))


def _write(kind: str, where: str, run_id: str, tag: str, steps: int, barrier: Any = None) -> float:
    """Record ``steps`` steps of one episode; returns the seconds the writes took."""
    store = _open(kind, where)
    episode = make_episode(f"e{tag}", run_id, seed=int(tag))
    store.start_episode(episode)
    frames = [frame(i) for i in range(steps // 4 + 1)]
    prepared = [make_step(episode.id, i, frames[i // 4]) for i in range(steps)]
    if barrier is not None:
        barrier.wait()
    started = time.perf_counter()
    for step in prepared:
        episode.add_step(step)
        store.record_step(step, [frames[step.index // 4]], episode)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def _child(
    kind: str, where: str, run_id: str, tag: str, steps: int, barrier: Any, out: Any
) -> None:
    out.put(_write(kind, where, run_id, tag, steps, barrier))


def measure(kind: str, where: str, steps: int, writers: int, round_: int) -> dict[str, float]:
    store = _open(kind, where)
    store.create_run(make_run(f"run{round_}", f"run-{round_}", seeds=list(range(1000))))
    store.close()
    run_id = f"run{round_}"
    one = _write(kind, where, run_id, f"{round_}00", steps)
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    procs = [
        ctx.Process(
            target=_child,
            args=(kind, where, run_id, f"{round_}{i + 1:02d}", steps, barrier, out),
        )
        for i in range(writers)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    times = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    wall = time.perf_counter() - started
    return {
        "one_writer_steps_per_s": steps / one,
        "one_writer_ms_per_step": 1000 * one / steps,
        "many_writers_steps_per_s": writers * steps / max(times),
        "many_writers_wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.writers, args.repeats = 20, 2, 1
    load = os.getloadavg()[0]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = PgServer(durable=True).start()
        try:
            for kind in ("sqlite", "postgres"):
                rounds = []
                for r in range(args.repeats):
                    where = (
                        str(Path(tmp) / f"w{r}.db")
                        if kind == "sqlite"
                        else server.new_database(f"bench{r}_")
                    )
                    rounds.append(measure(kind, where, args.steps, args.writers, r))
                results[kind] = {key: median([x[key] for x in rounds]) for key in rounds[0]} | {
                    "rounds": rounds
                }
        finally:
            server.stop()
    doc = {
        "steps": args.steps,
        "writers": args.writers,
        "repeats": args.repeats,
        "load_average_1m_at_start": load,
        "load_average_1m_at_end": os.getloadavg()[0],
        **results,
    }
    rows = [
        (f"{kind} {label}", f"{results[kind][key]:.1f}")
        for kind in ("sqlite", "postgres")
        for label, key in (
            ("1 writer steps/s", "one_writer_steps_per_s"),
            ("1 writer ms/step", "one_writer_ms_per_step"),
            (f"{args.writers} writers steps/s (total)", "many_writers_steps_per_s"),
        )
    ]
    rows.append(("load average (1 min) start / end", f"{load:.1f} / {os.getloadavg()[0]:.1f}"))
    report("store_write", doc, rows)


if __name__ == "__main__":
    main()
