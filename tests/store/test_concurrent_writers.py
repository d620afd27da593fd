"""Many ``vlmforge eval`` processes writing one PostgreSQL database: eight started together on
one run (``--resume``: each seed claimed once), and two resumers taking over from a writer
killed with SIGKILL. Every seed is played exactly once, no step is lost or left without its
episode. Real processes, real crafter, a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg2.errors
import pytest

from tests.eval.helpers import assert_every_seed_once
from tests.store.backends import PostgresBackend
from tests.store.pg_server import PgServer
from vlmforge_postgres.config import PostgresStoreConfig
from vlmforge_postgres.store import PostgresStore

pytestmark = pytest.mark.slow


def _start(dsn: str, seeds: str, max_steps: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    env["VLMFORGE_PG_DSN"] = dsn
    cmd = [
        sys.executable, "-m", "vlmforge", "eval", "--env", "crafter", "--policy", "random",
        "--seeds", seeds, "--max-steps", str(max_steps), "--concurrency", "2",
        "--store", "postgres", "--run-name", "N", "--resume",
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen[str]], timeout: float = 240) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, (out, err)
        assert "Traceback" not in err, err


def _check_once(dsn: str, seeds: list[int]) -> None:
    """Every seed one episode, done, its steps 0..n-1 matching its counters; no orphan rows."""
    store = PostgresStore(PostgresStoreConfig(dsn=dsn, read_only=True))
    try:
        assert_every_seed_once(store, seeds)
    finally:
        store.close()
    backend = PostgresBackend(dsn)
    for table in ("step", "achievement"):
        orphans = backend.count(
            f'SELECT COUNT(*) FROM "{table}" t LEFT JOIN episode e ON t.episode_id = e.id '
            "WHERE e.id IS NULL"
        )
        assert orphans == 0, table


def test_eight_processes_started_together_play_every_seed_once(pg_server: PgServer) -> None:
    dsn = pg_server.new_database("eight")
    _finish([_start(dsn, "0-11", 25) for _ in range(8)])
    _check_once(dsn, list(range(12)))


def test_two_resumers_take_over_from_a_killed_writer(pg_server: PgServer) -> None:
    dsn = pg_server.new_database("killed")
    killed = _start(dsn, "0-7", 60)
    backend = PostgresBackend(dsn)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert killed.poll() is None, killed.communicate()
        try:  # killed mid-episode: steps written and an episode still running
            if backend.count("SELECT COUNT(*) FROM step") >= 20 and backend.count(
                "SELECT COUNT(*) FROM episode WHERE status = 'running'"
            ):
                break
        except psycopg2.errors.UndefinedTable:  # not created yet
            pass
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert backend.count("SELECT COUNT(*) FROM episode WHERE status = 'running'") > 0
    _finish([_start(dsn, "0-7", 60) for _ in range(2)])
    _check_once(dsn, list(range(8)))
