"""Killing an eval (SIGKILL, SIGINT) loses at most the steps in flight; --resume completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.eval.helpers import open_store, wait_for_steps

ARGS = [
    "--env",
    "crafter",
    "--policy",
    "random",
    "--seeds",
    "0-2",
    "--max-steps",
    "150",
    "--concurrency",
    "2",
    "--run-name",
    "killed",
]


def _start(db: Path, tmp: Path, *extra: str, new_session: bool = False) -> subprocess.Popen[str]:
    """``vlmforge eval ARGS --trace-db DB EXTRA`` in a child process (in its own process group
    with ``new_session``, so a test can signal the whole group as a terminal's Ctrl-C does)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "vlmforge", "eval", *ARGS, "--trace-db", str(db), *extra],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def _check_complete(db: Path) -> None:
    store = open_store(db)
    run = store.get_run("killed")
    episodes = list(store.episodes([run.id]))
    assert sorted(e.seed for e in episodes) == [0, 1, 2]  # one episode per seed: no duplicates
    for e in episodes:
        assert e.status.value == "done"
        steps = list(store.steps(e.id))
        assert [s.index for s in steps] == list(range(e.steps))  # one uninterrupted trajectory
        assert sum(len(s.actions) for s in steps) == e.env_steps
    store.close()
    with sqlite3.connect(db) as con:
        assert (
            con.execute(
                "SELECT COUNT(*) FROM step s LEFT JOIN episode e ON s.episode_id = e.id "
                "WHERE e.id IS NULL"
            ).fetchone()[0]
            == 0
        )  # no orphaned steps


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    proc = _start(db, tmp_path)
    wait_for_steps(db, 30, proc)
    proc.kill()
    proc.wait()
    with sqlite3.connect(db) as con:
        statuses = [r[0] for r in con.execute("SELECT status FROM episode")]
        steps_before = con.execute("SELECT COUNT(*) FROM step").fetchone()[0]
    assert "running" in statuses and steps_before >= 30
    # a read command shows the store and changes nothing (its episodes stay "running") ...
    listed = run_cli("traces", "list", "--trace-db", str(db))
    assert listed.returncode == 0
    with sqlite3.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT status FROM episode")] == statuses
    # ... the next writer's open marks the dead writer's episodes interrupted, counters matching
    open_store(db).close()
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, status, steps FROM episode").fetchall()
        for episode_id, status, steps in rows:
            assert status == "interrupted"
            n = con.execute("SELECT COUNT(*) FROM step WHERE episode_id = ?", (episode_id,))
            assert n.fetchone()[0] == steps
    again = run_cli("eval", *ARGS, "--trace-db", str(db), "--resume")
    assert again.returncode == 0, again.stderr
    assert "interrupted restarted from scratch" in again.stderr
    _check_complete(db)
    twice = run_cli("eval", *ARGS, "--trace-db", str(db), "--resume")
    assert twice.returncode == 0 and "0 to run" in twice.stderr
    _check_complete(db)


@pytest.mark.slow
def test_sigint_marks_interrupted_and_resume_finishes(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    proc = _start(db, tmp_path)
    wait_for_steps(db, 20, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume --run-name killed" in err
    with sqlite3.connect(db) as con:
        statuses = {r[0] for r in con.execute("SELECT status FROM episode")}
    assert "running" not in statuses and "interrupted" in statuses
    again = run_cli("eval", *ARGS, "--trace-db", str(db), "--resume")
    assert again.returncode == 0, again.stderr
    _check_complete(db)


def test_existing_run_name_without_resume_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    args = [
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--seeds",
        "0",
        "--max-steps",
        "5",
        "--run-name",
        "dup",
        "--trace-db",
        str(db),
    ]
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 2 and "already exists" in again.stderr and "--resume" in again.stderr
    other = run_cli(
        *args[:-4], "--max-steps", "7", "--run-name", "dup", "--trace-db", str(db), "--resume"
    )
    assert other.returncode == 2 and "max_steps" in other.stderr
