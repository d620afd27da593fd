"""Eval fan-out on a real local Ray cluster (one per module, 2 worker CPUs): the traces equal a
local run's, an actor killed mid-episode fails only that episode and ``--resume`` completes the
run, the policy's API key reaches the actors, and bad combinations are clear errors."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vlmforge.errors import ConfigError
from vlmforge.eval_config import EvalConfig
from vlmforge.eval_session import EvalSession, SessionEvents
from vlmforge.fanout.config import RaySection
from vlmforge.fanout.executor import forwarded_env
from vlmforge.testing.openai_server import OpenAIServer, Reply
from vlmforge.trace import EpisodeStatus
from vlmforge_sqlite.store import SqliteStore, SqliteStoreConfig

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
pytestmark = pytest.mark.slow

# What differs between two plays of the same seed: ids, clocks, latencies, the writer.
_EPISODE_VOLATILE = {"id", "run_id", "started_at", "finished_at", "policy_time_s", "env_time_s"}
_STEP_VOLATILE = {"episode_id", "started_at", "policy_latency_s", "env_latency_s"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _config(db: Path, seeds: str, max_steps: int, *, on_ray: bool, **extra: Any) -> EvalConfig:
    doc: dict[str, Any] = {
        "run_name": "r",
        "seeds": seeds,
        "max_steps": max_steps,
        "env": {"name": "crafter"},
        "policy": {"name": "random"},
        "store": {"name": "sqlite", "path": str(db)},
        **extra,
    }
    if on_ray:
        doc["ray"] = {"workers": 2}
    return EvalConfig.model_validate(doc)


def _traces(db: Path) -> dict[int, tuple[dict[str, Any], list[dict[str, Any]]]]:
    store = SqliteStore(SqliteStoreConfig(path=str(db), read_only=True))
    try:
        return {
            t.episode.seed: (
                t.episode.model_dump(exclude=_EPISODE_VOLATILE),
                [s.model_dump(exclude=_STEP_VOLATILE) for s in t.steps],
            )
            for t in store.traces()
        }
    finally:
        store.close()


def test_a_ray_eval_records_the_traces_of_a_local_one(cluster: None, tmp_path: Path) -> None:
    local, fanned = tmp_path / "local.db", tmp_path / "ray.db"
    EvalSession(_config(local, "0-3", 30, on_ray=False)).run()
    results = EvalSession(_config(fanned, "0-3", 30, on_ray=True)).run()
    assert [o.done for o in (r.outcome for r in results.runs)] == [4]
    expected, got = _traces(local), _traces(fanned)
    assert sorted(got) == [0, 1, 2, 3]
    assert got == expected


def test_actors_write_a_shared_postgres_store(
    cluster: None, pg_server: Any, tmp_path: Path
) -> None:
    """Every actor connects to the database itself: the run there equals a local SQLite run."""
    from vlmforge_postgres.config import PostgresStoreConfig
    from vlmforge_postgres.store import PostgresStore

    local = tmp_path / "local.db"
    EvalSession(_config(local, "0-2", 20, on_ray=False)).run()
    dsn = pg_server.new_database("ray")
    config = _config(local, "0-2", 20, on_ray=True).model_copy(
        update={
            "store": EvalConfig.model_validate({"store": {"name": "postgres", "dsn": dsn}}).store
        }
    )
    results = EvalSession(config).run()
    assert results.runs[0].outcome.done == 3
    store = PostgresStore(PostgresStoreConfig(dsn=dsn, read_only=True))
    try:
        got = {
            t.episode.seed: (
                t.episode.model_dump(exclude=_EPISODE_VOLATILE),
                [s.model_dump(exclude=_STEP_VOLATILE) for s in t.steps],
            )
            for t in store.traces()
        }
    finally:
        store.close()
    assert got == _traces(local)


def _kill_an_actor_mid_episode(db: Path, killed: list[int]) -> None:
    """Wait for an episode running in another process (an actor), then SIGKILL that process."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=5)) as con:
                rows = con.execute(
                    "SELECT e.owner FROM episode e WHERE e.status = 'running' AND "
                    "(SELECT COUNT(*) FROM step s WHERE s.episode_id = e.id) >= 5"
                ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            rows = []
        for (owner,) in rows:
            pid = int(owner.rpartition(":")[2])
            if pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.02)


def test_a_killed_actor_fails_only_its_episode_and_resume_completes(
    cluster: None, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    killed: list[int] = []
    killer = threading.Thread(target=_kill_an_actor_mid_episode, args=(db, killed))
    killer.start()
    notices: list[str] = []
    events = SessionEvents(notice=notices.append)
    results = EvalSession(_config(db, "0-3", 400, on_ray=True), events=events).run()
    killer.join()
    assert any("died" in n and "--resume --run-name r" in n for n in notices), notices
    assert len(killed) == 1
    outcome = results.runs[0].outcome
    assert (outcome.done, outcome.interrupted) == (3, 1), results.runs[0].result
    store = SqliteStore(SqliteStoreConfig(path=str(db), read_only=True))
    episodes = list(store.episodes())
    store.close()
    lost = [e for e in episodes if e.status is EpisodeStatus.interrupted]
    assert len(lost) == 1 and "Ray actor playing it died" in (lost[0].error or "")
    EvalSession(_config(db, "0-3", 400, on_ray=True), resume=True).run()
    store = SqliteStore(SqliteStoreConfig(path=str(db), read_only=True))
    try:
        final = list(store.episodes())
        assert sorted(e.seed for e in final) == [0, 1, 2, 3]
        assert {e.status for e in final} == {EpisodeStatus.done}
        for e in final:
            assert [s.index for s in store.steps(e.id)] == list(range(e.steps))
    finally:
        store.close()


def test_the_policy_key_reaches_the_actors(
    cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-ray-forwarded-0123456789abcdef"
    monkeypatch.setenv("RAY_TEST_OPENAI_KEY", key)
    with OpenAIServer(lambda request: Reply.tool_call("interact", {"action": "noop"})) as server:
        config = EvalConfig.model_validate(
            {
                "run_name": "llm",
                "seeds": "0-1",
                "max_steps": 3,
                "env": {"name": "crafter"},
                "policy": {
                    "name": "openai",
                    "model": "m",
                    "base_url": server.base_url,
                    "api_key_env": "RAY_TEST_OPENAI_KEY",
                    "max_retries": 0,
                },
                "store": {"name": "sqlite", "path": str(tmp_path / "t.db")},
                "ray": {"workers": 2},
            }
        )
        results = EvalSession(config).run()
        seen = {r.headers.get("authorization") for r in server.requests}
    assert results.runs[0].outcome.done == 2
    assert seen == {f"Bearer {key}"}
    raw = (tmp_path / "t.db").read_bytes()
    assert key.encode() not in raw


def test_forwarded_variables() -> None:
    os.environ["FANOUT_A"], os.environ["FANOUT_KEY"] = "a", "k"
    try:
        section = RaySection(env_vars=["FANOUT_A", "FANOUT_MISSING"])
        got = forwarded_env(section, {"api_key_env": "FANOUT_KEY", "nested": {"x": 1}})
        assert got == {"FANOUT_A": "a", "FANOUT_KEY": "k"}
    finally:
        del os.environ["FANOUT_A"], os.environ["FANOUT_KEY"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"env_workers": 2}, "env_workers and \\[ray\\]"), ({"concurrency": 4}, "concurrency and")],
)
def test_what_does_not_combine_with_ray(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(Path("x.db"), "0", 5, on_ray=True, **extra)
    with pytest.raises(ValueError, match="workers"):
        RaySection(workers=0)
    assert ConfigError  # the CLI turns these into exit 2 with the file and key
