"""``vlmforge traces copy``: sqlite -> postgres -> sqlite is lossless (every record of every
table compared), the target must not hold the runs, the source is only read, and a DSN's
password never shows. Real evals (random policy; the openai policy over loopback HTTP), a real
PostgreSQL server, the CLI in-process."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.filter.builders import record_llm_eval, record_random_eval
from tests.store.backends import Backend, PostgresBackend, SqliteBackend
from tests.store.pg_server import PASSWORD, PgServer

CLI = Callable[..., Any]

# Every column of every table but the autoincrement ids, in a stable order.
_ROWS = {
    "run": 'SELECT * FROM "run" ORDER BY id',
    "episode": 'SELECT * FROM "episode" ORDER BY id',
    "step": 'SELECT episode_id, "index", reward, n_actions, n_tool_calls, invalid, done, '
    "has_error, prompt_tokens, completion_tokens, policy_latency_s, env_latency_s, payload "
    'FROM "step" ORDER BY episode_id, "index"',
    "blob": 'SELECT sha256, kind, data FROM "blob" ORDER BY sha256',
    "image": 'SELECT sha256, width, height, png FROM "image" ORDER BY sha256',
    "achievement": 'SELECT episode_id, step_index, name FROM "achievement" '
    "ORDER BY episode_id, step_index, name",
}


def _value(value: Any, table: str) -> Any:
    if isinstance(value, bytes | memoryview):
        data = bytes(value)
        return data if table == "image" else zlib.decompress(data)  # payloads: as JSON text
    if isinstance(value, bool):
        return int(value)
    return value


def _records(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(_value(v, table) for v in row) for row in backend.query(sql)]
        for table, sql in _ROWS.items()
    }


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store with two real runs: random (frames only) and llm (prompts with image parts,
    message blobs, a failed episode)."""
    db = tmp_path_factory.mktemp("copy") / "source.db"
    record_random_eval(db, "0-1", 25)
    record_llm_eval(db)
    return db


def test_sqlite_to_postgres_and_back_is_lossless(
    recorded: Path, pg_server: PgServer, tmp_path: Path, cli: CLI
) -> None:
    source = SqliteBackend(recorded)
    before = _records(source)
    dsn = pg_server.new_database("copy")
    out = cli("traces", "copy", "--from", f"sqlite:{recorded}", "--to", f"postgres:{dsn}", "--json")
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert (counts["runs"], counts["episodes"]) == (2, 5)
    assert counts["steps"] == len(before["step"]) and counts["images"] == len(before["image"])
    assert PASSWORD not in out.stdout + out.stderr
    assert counts["to"] == dsn.replace(f":{PASSWORD}", "")
    assert _records(PostgresBackend(dsn)) == before

    back = tmp_path / "back.db"
    env = {"VLMFORGE_PG_DSN": dsn}
    out = cli("traces", "copy", "--from", "postgres:", "--to", f"sqlite:{back}", env=env)
    assert out.returncode == 0, out.stderr
    assert "copied 2 run(s), 5 episode(s)" in out.stdout
    assert _records(SqliteBackend(back)) == before
    assert _records(source) == before  # the source was only read
    # the copy reads the same through the CLI's readers
    listed = cli("traces", "list", "--trace-db", str(back), "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)["runs"]} == {"random", "llm"}


def test_one_run_and_a_target_holding_it(
    recorded: Path, pg_server: PgServer, tmp_path: Path, cli: CLI
) -> None:
    target = tmp_path / "one.db"
    out = cli("traces", "copy", "--from", f"sqlite:{recorded}", "--to", f"sqlite:{target}",
              "--run", "llm")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [r[1] for r in SqliteBackend(target).query("SELECT id, name FROM run")] == ["llm"]
    before = _records(SqliteBackend(target))
    again = cli("traces", "copy", "--from", f"sqlite:{recorded}", "--to", f"sqlite:{target}")
    assert again.returncode == 2
    assert "already holds 1 run llm; nothing was copied" in again.stderr
    assert _records(SqliteBackend(target)) == before
    missing = cli("traces", "copy", "--from", f"sqlite:{recorded}", "--to", f"sqlite:{target}",
                  "--run", "nope")  # fmt: skip
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr


def test_bad_specs_are_usage_errors_that_never_echo_a_dsn(
    recorded: Path, pg_server: PgServer, tmp_path: Path, cli: CLI
) -> None:
    no_store = cli("traces", "copy", "--from", str(recorded), "--to", f"sqlite:{tmp_path}/x.db")
    assert no_store.returncode == 2 and "--from takes STORE:WHERE" in no_store.stderr
    wrong = pg_server.dsn("copy_missing").replace(PASSWORD, "not-the-password-123")
    bad = cli("traces", "copy", "--from", f"sqlite:{recorded}", "--to", f"postgres:{wrong}")
    assert bad.returncode == 1, bad.stderr
    assert "cannot open trace store postgresql://vlm@127.0.0.1" in bad.stderr
    assert "not-the-password-123" not in bad.stdout + bad.stderr
    assert not (tmp_path / "x.db").exists()


def test_an_episode_still_running_is_copied_as_interrupted(tmp_path: Path) -> None:
    from tests.eval.helpers import frame, make_episode, make_run, make_step, open_store
    from vlmforge.store_copy import copy_runs
    from vlmforge.trace import EpisodeStatus

    source = open_store(tmp_path / "live.db")
    source.create_run(make_run())
    source.start_episode(make_episode("e"))  # a live writer's episode, mid-way
    source.record_step(make_step("e", 0, frame(1)), [frame(1)])
    target = open_store(tmp_path / "copy.db")
    counts = copy_runs(source, target)
    assert (counts.episodes, counts.steps, counts.interrupted) == (1, 1, 1)
    copied = target.get_episode("e")
    assert copied is not None and copied.status is EpisodeStatus.interrupted
    assert list(target.steps("e")) == list(source.steps("e"))
    assert source.get_episode("e").status is EpisodeStatus.running  # the source as it was
    source.close()
    target.close()
