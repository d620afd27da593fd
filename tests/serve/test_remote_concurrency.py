"""An eval over ``--env remote`` keeps as many env calls in flight as episodes in flight.

Remote calls wait on the network, not on this machine's cores, so they must not be capped at
about one thread per core (the cap for in-process environments).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.serve.conftest import Server
from vlmforge.testing.envs import PLUGINS_DIR


@pytest.mark.slow
def test_every_episode_in_flight_has_its_env_call_in_flight(serve, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "in_flight.log"
    server: Server = serve(
        "--env",
        "waiting",
        "--plugins-dir",
        str(PLUGINS_DIR),
        env={"WAITING_STEP_S": "0.2", "WAITING_STEPS": "3", "WAITING_LOG": str(log)},
    )
    # more episodes in flight than the ~one-thread-per-core cap (cores + 2) of in-process envs,
    # and fewer than the server's 40 request threads
    concurrency = min(32, (os.cpu_count() or 2) + 4)
    db = tmp_path / "t.db"
    result = cli(
        "eval", "--env", "remote", "--env-url", server.url, "--policy", "random",
        "--seeds", f"0-{concurrency - 1}", "--concurrency", str(concurrency),
        "--trace-db", str(db),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as con:
        statuses = [row[0] for row in con.execute("SELECT status FROM episode")]
    assert statuses == ["done"] * concurrency
    counts = [int(line) for line in log.read_text().split()]
    assert len(counts) == 3 * concurrency  # every step reached the server once
    assert max(counts) == concurrency, counts
