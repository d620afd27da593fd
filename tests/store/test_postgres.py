"""What is particular to the postgres store: where the DSN comes from, that its password never
shows, every ``[store]`` setting honoured, concurrent first opens, ``--store postgres`` on the
command line. A real PostgreSQL server (tests/store/pg_server.py)."""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest

from tests.eval.helpers import frame, make_episode, make_run, make_step
from tests.store.backends import PostgresBackend
from tests.store.pg_server import PASSWORD, PgServer
from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.redaction import forget_secrets
from vlmforge.tracedb.migrations import LATEST_VERSION
from vlmforge_postgres.config import PostgresStoreConfig
from vlmforge_postgres.store import PostgresStore

CLI = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_remembered_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def dsn(pg_server: PgServer) -> str:
    return pg_server.new_database("pg")


def test_dsn_env_is_read_and_its_absence_is_a_clear_error(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLMFORGE_PG_DSN", raising=False)
    with pytest.raises(ConfigError, match="set environment variable VLMFORGE_PG_DSN"):
        PostgresStore(PostgresStoreConfig())
    monkeypatch.setenv("MY_TRACES_DSN", dsn)
    store = PostgresStore(PostgresStoreConfig(dsn_env="MY_TRACES_DSN"))
    assert store.where == dsn.replace(f":{PASSWORD}", "")
    assert PASSWORD not in store.where
    store.close()
    with pytest.raises(ConfigError, match="names no database"):
        PostgresStore(PostgresStoreConfig(dsn="host=127.0.0.1 port=1"))


def test_a_wrong_password_or_no_server_never_shows_the_password(pg_server: PgServer) -> None:
    wrong = pg_server.new_database("pw").replace(PASSWORD, "Wrong-password-0042")
    with pytest.raises(VlmforgeError) as failed:
        PostgresStore(PostgresStoreConfig(dsn=wrong))
    assert "password authentication failed" in str(failed.value)
    assert "Wrong-password-0042" not in str(failed.value)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = f"postgresql://vlm:Another-secret-77@127.0.0.1:{port}/x"
    with pytest.raises(VlmforgeError, match="Is the server running") as failed:
        PostgresStore(PostgresStoreConfig(dsn=gone))
    assert "Another-secret-77" not in str(failed.value)
    assert f"postgresql://vlm@127.0.0.1:{port}/x" in str(failed.value)


def test_the_password_is_redacted_from_what_the_store_writes(dsn: str) -> None:
    store = PostgresStore(PostgresStoreConfig(dsn=dsn))
    store.create_run(make_run(policy_config={"model": "m", "note": f"dsn was {dsn}"}))
    episode = make_episode("e")
    store.start_episode(episode)
    store.record_step(make_step("e", 0, frame(1), error=f"oops {PASSWORD}"), [frame(1)])
    store.close()
    everything = PostgresBackend(dsn).all_text()
    assert "[redacted]" in everything and PASSWORD not in everything


def test_connect_timeout_is_honoured() -> None:
    """A server that accepts the connection and never answers: the open gives up after
    connect_timeout_s (libpq's minimum is 2 s)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(VlmforgeError, match="timeout"):
            PostgresStore(
                PostgresStoreConfig(dsn=f"postgresql://vlm@127.0.0.1:{port}/x", connect_timeout_s=2)
            )
        waited = time.monotonic() - started
    assert 1.5 <= waited < 15


def test_lock_timeout_is_honoured(dsn: str) -> None:
    store = PostgresStore(PostgresStoreConfig(dsn=dsn, lock_timeout_s=0.3))
    store.create_run(make_run())
    store.start_episode(make_episode("e"))
    blocker = psycopg2.connect(dsn)
    with blocker.cursor() as cur:
        cur.execute('LOCK TABLE "step" IN ACCESS EXCLUSIVE MODE')  # another session holds it
    started = time.monotonic()
    with pytest.raises(VlmforgeError, match="lock_timeout_s"):
        store.record_step(make_step("e", 0, frame(1)), [frame(1)])
    assert 0.25 <= time.monotonic() - started < 5
    blocker.rollback()
    blocker.close()
    store.record_step(make_step("e", 0, frame(1)), [frame(1)])  # free again: nothing half-done
    assert [s.index for s in store.steps("e")] == [0]
    store.close()


def _open(dsn: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        PostgresStore(PostgresStoreConfig(dsn=dsn)).close()
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_database_together_create_it_once(pg_server: PgServer) -> None:
    ctx = multiprocessing.get_context("fork")
    for attempt in range(3):
        dsn = pg_server.new_database(f"race{attempt}_")
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(dsn, barrier, results)) for _ in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        assert [results.get(timeout=10) for _ in procs] == ["ok"] * 4
        backend = PostgresBackend(dsn)
        assert backend.count("SELECT COUNT(*) FROM schema_version") == LATEST_VERSION


def test_claims_of_one_seed_from_many_threads_give_it_to_one(dsn: str) -> None:
    """Eight stores (eight connections) claim the same seeds at once: each seed goes to one."""
    PostgresStore(PostgresStoreConfig(dsn=dsn)).create_run(make_run(seeds=list(range(6))))
    stores = [PostgresStore(PostgresStoreConfig(dsn=dsn)) for _ in range(8)]
    won: list[tuple[int, int]] = []
    barrier = threading.Barrier(len(stores))

    def claim(i: int) -> None:
        barrier.wait()
        for seed in range(6):
            if stores[i].claim_episode(make_episode(f"s{i}-{seed}", seed=seed)):
                won.append((seed, i))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(seed for seed, _ in won) == list(range(6))
    assert PostgresBackend(dsn).count("SELECT COUNT(*) FROM episode") == 6
    for store in stores:
        store.close()


def test_read_only_and_a_missing_store_on_the_command_line(dsn: str, cli: CLI) -> None:
    env = {"VLMFORGE_PG_DSN": dsn}
    empty = cli("traces", "list", "--store", "postgres", env=env)
    assert empty.returncode == 2 and "does not exist" in empty.stderr
    assert (
        PostgresBackend(dsn).count(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        == 0
    )  # the reader created nothing
    out = cli("eval", "--env", "crafter", "--policy", "random", "--seeds", "0", "--max-steps",
              "12", "--store", "postgres", "--run-name", "pg", env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert PASSWORD not in out.stdout + out.stderr
    listed = cli("traces", "list", "--store", "postgres", "--trace-db", dsn, "--json")
    assert listed.returncode == 0, listed.stderr
    episodes = json.loads(listed.stdout)["episodes"]
    assert [(e["seed"], e["status"], e["env_steps"]) for e in episodes] == [(0, "done", 12)]
    assert PASSWORD not in listed.stdout + listed.stderr
    gone = cli("traces", "rm", "nope", "--store", "postgres", env=env)
    assert gone.returncode == 2 and PASSWORD not in gone.stderr
    assert "postgresql://vlm@127.0.0.1" in gone.stderr
