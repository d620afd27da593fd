"""What is particular to the sqlite store: files that are not SQLite, the busy timeout, WAL
and page size, indexes. The store contract runs on every backend: tests/store/test_contract.py."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.eval.helpers import count, frame, make_episode, make_run, make_step, open_store
from vlmforge.errors import VlmforgeError
from vlmforge.tracedb.migrations import LATEST_VERSION


def test_episode_queries_use_the_indexes(tmp_path: Path) -> None:
    """The query contract is tested on every backend (tests/store/test_contract.py); here,
    that SQLite answers the achievement-count query from its index."""
    open_store(tmp_path / "t.db").close()
    with sqlite3.connect(tmp_path / "t.db") as con:
        plan = " ".join(
            str(r)
            for r in con.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM episode WHERE unique_achievements >= 2"
            )
        )
    assert "episode_unique_achievements" in plan


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(VlmforgeError, match="is not an SQLite database"):
        open_store(bad)
    assert bad.read_bytes() == b"this is not sqlite" * 100


def test_busy_timeout_is_honoured(tmp_path: Path) -> None:
    import time

    db = tmp_path / "t.db"
    store = open_store(db, busy_timeout_s=0.2)
    store.create_run(make_run())
    store.start_episode(make_episode("e"))
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    started = time.monotonic()
    with pytest.raises(VlmforgeError, match="busy_timeout_s"):
        store.record_step(make_step("e", 0, frame(1)), [frame(1)])
    waited = time.monotonic() - started
    assert 0.8 <= waited < 5  # 4 attempts of ~0.2 s plus short backoffs
    blocker.execute("ROLLBACK")
    store.record_step(make_step("e", 0, frame(1)), [frame(1)])  # the lock is free again
    assert len(list(store.steps("e"))) == 1
    store.close()


def _open_at_barrier(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        open_store(Path(path)).close()
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_processes_opening_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    """Switching a new file to WAL can fail at once ("database is locked", no busy wait) while
    another process opens it too; the store retries. 80 rounds of 4 processes started at a
    barrier: without the retry a tenth to a third of the rounds had a failed open on 2 cores."""
    ctx = multiprocessing.get_context("fork")
    failures = []
    for attempt in range(80):
        db = tmp_path / f"new{attempt}.db"
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_barrier, args=(str(db), barrier, results)) for _ in range(4)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        failures += [r for r in (results.get(timeout=10) for _ in procs) if r != "ok"]
        assert count(db, "SELECT COUNT(*) FROM schema_version") == LATEST_VERSION
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert con.execute("PRAGMA page_size").fetchone()[0] == 16384
    assert failures == []
