"""The sqlite store: exact round trips, images and messages stored once, queries, recovery."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.eval.helpers import count, frame, make_episode, make_run, make_step, open_store
from vlmforge.components import CorruptTraceError, EpisodeQuery
from vlmforge.errors import VlmforgeError
from vlmforge.trace import EpisodeStatus
from vlmforge_sqlite.migrations import LATEST_VERSION


def test_steps_round_trip_exactly_and_counters_follow(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    run = make_run()
    store.create_run(run)
    episode = make_episode("ep1")
    store.start_episode(episode)
    image = frame(1)
    written = []
    for i in range(3):
        step = make_step("ep1", i, image)
        episode.add_step(step)
        store.record_step(step, [image], episode)
        written.append(step)
    assert list(store.steps("ep1")) == written
    # counters were committed with each step, before finish_episode
    stored = store.get_episode("ep1")
    assert stored is not None and stored.steps == 3 and stored.env_steps == 6
    assert stored.status == EpisodeStatus.running
    episode.status = EpisodeStatus.done
    store.finish_episode(episode)
    assert store.get_episode("ep1") == episode
    store.close()
    # re-opened by a fresh store object: still identical
    again = open_store(tmp_path / "t.db")
    assert list(again.steps("ep1")) == written
    assert again.get_run("run-one") == run == again.get_run("run1")
    again.close()


def test_images_and_repeated_messages_are_stored_once(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = open_store(db)
    store.create_run(make_run())
    for ep in ("a", "b"):
        store.start_episode(make_episode(ep))
        for i in range(4):
            store.record_step(make_step(ep, i, frame(7)), [frame(7)])
    store.close()
    assert count(db, "SELECT COUNT(*) FROM image") == 1
    # system prompt + the repeated history message: two blobs for 8 steps
    assert count(db, "SELECT COUNT(*) FROM blob") == 2
    assert count(db, "SELECT COUNT(*) FROM step") == 8
    assert count(db, "SELECT COUNT(*) FROM achievement WHERE name='collect_wood'") == 2


def test_image_bytes_come_back(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    image = frame(3)
    store.create_run(make_run())
    store.start_episode(make_episode("e"))
    store.record_step(make_step("e", 0, image), [image])
    assert store.image(image.sha256) == image.png
    with pytest.raises(CorruptTraceError, match="is missing"):
        store.image("0" * 64)
    store.close()


def test_secrets_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-0123456789abcdefSECRET"
    monkeypatch.setenv("MY_PROVIDER_API_KEY", secret)
    db = tmp_path / "t.db"
    store = open_store(db)
    run = make_run(
        policy_config={
            "model": "m",
            "api_key": "hunter2-not-env",
            "headers": {"Authorization": "Bearer abcdefghijklmnop"},
        }
    )
    store.create_run(run)
    episode = make_episode("e")
    store.start_episode(episode)
    step = make_step("e", 0, frame(1), error=f"401: bad key {secret}")
    store.record_step(step, [frame(1)])
    episode.error = f"failed with {secret}"
    store.finish_episode(episode)
    stored = store.get_run("run1")
    assert stored is not None
    assert stored.policy_config["api_key"] == "[redacted]"
    assert stored.policy_config["headers"]["Authorization"] == "[redacted]"
    assert "[redacted]" in (next(iter(store.steps("e"))).error or "")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw and b"hunter2" not in raw and b"abcdefghijklmnop" not in raw


def test_queries_filter_with_indexes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    store.create_run(make_run())
    store.create_run(make_run("run2", "run-two"))
    for i, (run_id, seed, status, ach) in enumerate(
        [
            ("run1", 0, "done", ["collect_wood"]),
            ("run1", 1, "done", ["collect_wood", "place_table"]),
            ("run1", 2, "failed", []),
            ("run2", 0, "done", ["place_table"]),
        ]
    ):
        ep = make_episode(f"e{i}", run_id, seed)
        store.start_episode(ep)
        for j, name in enumerate(ach):
            store.record_step(make_step(ep.id, j, frame(j), achievements=[name]), [frame(j)])
        ep.achievements = ach
        ep.steps = len(ach)
        ep.status = EpisodeStatus(status)
        store.finish_episode(ep)

    def ids(**kw):
        return [e.id for e in store.episodes(query=EpisodeQuery(**kw))]

    assert ids() == ["e0", "e1", "e2", "e3"]
    assert ids(run_ids=["run1"], statuses=["done"]) == ["e0", "e1"]
    assert ids(min_unique_achievements=2) == ["e1"]
    assert ids(achievements=["place_table"]) == ["e1", "e3"]
    assert ids(achievements=["place_table", "collect_wood"]) == ["e1"]
    assert ids(seeds=[0]) == ["e0", "e3"]
    assert ids(min_steps=1, limit=2) == ["e0", "e1"]
    assert [e.id for e in store.episodes(["run2"])] == ["e3"]
    traces = list(store.traces(EpisodeQuery(statuses=["done"]), batch_size=2))
    assert [t.episode.id for t in traces] == ["e0", "e1", "e3"]
    assert [len(t.steps) for t in traces] == [1, 2, 1]
    assert traces[2].run.name == "run-two"
    assert traces[1].steps == list(store.steps("e1"))
    metrics = list(store.step_metrics(EpisodeQuery(episode_ids=["e1"])))
    assert [(m.episode_id, m.index) for m in metrics] == [("e1", 0), ("e1", 1)]
    assert metrics[0].prompt_tokens == 100 and metrics[1].invalid
    store.delete_episode("e1")
    assert ids(run_ids=["run1"]) == ["e0", "e2"]
    assert list(store.steps("e1")) == []
    store.close()
    with sqlite3.connect(tmp_path / "t.db") as con:
        plan = " ".join(
            str(r)
            for r in con.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM episode WHERE unique_achievements >= 2"
            )
        )
    assert "episode_unique_achievements" in plan


def test_running_episodes_of_a_dead_process_become_interrupted(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    store.create_run(make_run())
    store.start_episode(make_episode("mine"))
    store.start_episode(make_episode("theirs", seed=1))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with sqlite3.connect(tmp_path / "t.db") as con:
        con.execute(
            "UPDATE episode SET owner = ? WHERE id = 'theirs'",
            (f"{store.owner.rpartition(':')[0]}:{dead.stdout.strip()}",),
        )
    assert store.recover_interrupted() == 1
    assert store.get_episode("theirs").status == EpisodeStatus.interrupted
    assert store.get_episode("mine").status == EpisodeStatus.running  # this process is alive
    store.close()


def test_schema_version_and_newer_databases_refused(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    open_store(db).close()
    assert count(db, "SELECT MAX(version) FROM schema_version") == LATEST_VERSION
    open_store(db).close()  # re-opening applies nothing twice
    assert count(db, "SELECT COUNT(*) FROM schema_version") == LATEST_VERSION
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO schema_version VALUES (99, 'x', 'from the future')")
    with pytest.raises(VlmforgeError, match="newer"):
        open_store(db)


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


def test_compress_level_is_honoured(tmp_path: Path) -> None:
    sizes = {}
    for level in (0, 9):
        db = tmp_path / f"c{level}.db"
        store = open_store(db, compress_level=level)
        store.create_run(make_run())
        store.start_episode(make_episode("e"))
        step = make_step("e", 0, frame(1), info={"long": "crafter " * 400})
        store.record_step(step, [frame(1)])
        assert next(iter(store.steps("e"))) == step
        store.close()
        sizes[level] = count(db, "SELECT length(payload) FROM step")
    assert sizes[0] > 3000 > 1000 > sizes[9]


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
