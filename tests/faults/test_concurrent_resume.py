"""Several ``vlmforge eval --resume`` processes on one run play every seed exactly once.

Each process claims a seed in the store (one write transaction) before playing it; a seed that
another live process holds, or that is finished, is skipped; an interrupted attempt, or one
whose process is gone (kill -9), is taken over. Real processes on a real SQLite file.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.eval.helpers import assert_every_seed_once, open_store, wait_for_steps
from vlmforge.trace import Episode


def _eval(db: Path, cwd: Path, seeds: str, max_steps: int, name: str = "N") -> list[str]:
    return [
        sys.executable,
        "-m",
        "vlmforge",
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--seeds",
        seeds,
        "--max-steps",
        str(max_steps),
        "--concurrency",
        "2",
        "--trace-db",
        str(db),
        "--run-name",
        name,
        "--resume",
    ]


def _start(cmd: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(procs: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    errors = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, (out, err)
        assert "Traceback" not in err, err
        errors.append(err)
    return errors


def _check_once(db: Path, seeds: list[int], name: str = "N") -> None:
    """Every seed has exactly one episode, done, with one uninterrupted trajectory; no step or
    achievement row is left without its episode."""
    store = open_store(db)
    try:
        assert_every_seed_once(store, seeds, name)
    finally:
        store.close()
    with sqlite3.connect(db) as con:
        for table in ("step", "achievement"):
            orphans = con.execute(
                f"SELECT COUNT(*) FROM {table} t LEFT JOIN episode e ON t.episode_id = e.id "
                "WHERE e.id IS NULL"
            ).fetchone()[0]
            assert orphans == 0, table


def test_the_issue_reproduction_two_resumers_started_together(tmp_path: Path) -> None:
    """``A="vlmforge eval ... --resume"; $A & $A & wait``: each seed played once, no error."""
    db = tmp_path / "d.db"
    cmd = _eval(db, tmp_path, "0-7", 300)
    _finish([_start(cmd, tmp_path), _start(cmd, tmp_path)])
    _check_once(db, list(range(8)))


def test_a_resumer_joining_a_live_run_skips_the_seeds_it_holds_or_finished(
    tmp_path: Path,
) -> None:
    db = tmp_path / "d.db"
    cmd = _eval(db, tmp_path, "0-7", 300)
    first = _start(cmd, tmp_path)
    wait_for_steps(db, 20, first)  # the run exists and seeds 0 and 1 are being played
    second = _start(cmd, tmp_path)
    errors = _finish([first, second])
    _check_once(db, list(range(8)))
    assert "being run by another process" in errors[1] or "another process" in errors[1]


def test_four_resumers_and_a_killed_writer(tmp_path: Path) -> None:
    """A writer killed mid-run leaves running episodes; four resumers started together take
    them over and finish the run: every seed once, no lost or stray steps."""
    db = tmp_path / "d.db"
    cmd = _eval(db, tmp_path, "0-7", 60)
    killed = _start(cmd, tmp_path)
    wait_for_steps(db, 20, killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM episode WHERE status = 'running'").fetchone()[0]
    _finish([_start(cmd, tmp_path) for _ in range(4)])
    _check_once(db, list(range(8)))


# -- the claim against a stale plan (the store's claim contract, on every backend:
# tests/store/test_contract.py) --------------------------------------------------------
def test_a_seed_whose_holder_dies_after_the_plan_is_taken_over(tmp_path: Path) -> None:
    """The plan saw seed 1 held by a live process; that process dies before the runner comes
    to the seed: the claim (not the stale plan) decides, and the seed is played here."""
    from vlmforge.eval_config import EvalConfig
    from vlmforge.eval_session import EvalSession, SessionEvents

    db = tmp_path / "t.db"
    config = EvalConfig.model_validate(
        {
            "run_name": "lib",
            "seeds": "0-1",
            "max_steps": 15,
            "env": {"name": "crafter"},
            "policy": {"name": "random"},
            "store": {"name": "sqlite", "path": str(db)},
        }
    )
    EvalSession(config.model_copy(update={"seeds": "0"})).run()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    store = open_store(db)
    run = store.get_run("lib")
    assert run is not None
    assert store.claim_episode(Episode(id="held", run_id=run.id, seed=1))
    store.close()
    with sqlite3.connect(db) as con:
        con.execute(
            "UPDATE episode SET owner = ? WHERE id = 'held'",
            (f"{socket.gethostname()}:{holder.pid}",),
        )
    notices: list[str] = []

    def notice(text: str) -> None:  # said after the plan, before any seed is played
        notices.append(text)
        if text.startswith("resuming"):
            holder.kill()
            holder.wait()

    EvalSession(config, resume=True, events=SessionEvents(notice=notice)).run()
    assert "1 being run by another process" in notices[0]
    _check_once(db, [0, 1], name="lib")
