"""Read commands never change a file; every command refuses a file that is not a vlmforge store.

Issue 17, defect 3: ``vlmforge traces list --trace-db other.db`` on another application's SQLite
file added six tables and switched it to WAL. Every read command (``traces list/show/stats/
frames``, ``filter``) now opens the store read-only and refuses such a file with one line naming
it; ``vlmforge eval`` refuses it before changing anything. The file's bytes and mtime stay the
same and no ``-wal``/``-shm``/``-journal`` appears, for foreign files and real stores alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from vlmforge.tracedb.migrations import LATEST_VERSION

SIDE_FILES = ("-wal", "-shm", "-journal")
RUN = "r1"


# -- files ---------------------------------------------------------------------------------
def _other_app(path: Path, *, wal: bool = False, tables: tuple[str, ...] = ("users",)) -> None:
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode = wal")
    for table in tables:
        con.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, name TEXT)')
        con.execute(f"INSERT INTO \"{table}\" (name) VALUES ('keep me')")
    con.commit()
    con.close()  # the last connection: a WAL file's -wal and -shm are removed


FOREIGN: dict[str, Callable[[Path], None]] = {
    "other-app": _other_app,
    "other-app-wal": lambda p: _other_app(p, wal=True),
    # the names of vlmforge's own tables, another application's columns
    "other-app-same-names": lambda p: _other_app(p, tables=("run", "episode", "step")),
    "random-bytes": lambda p: p.write_bytes(bytes(range(256)) * 40),
    "text-file": lambda p: p.write_text("name,score\nalice,3\n" * 50),
    "empty-file": lambda p: p.write_bytes(b""),
}
NOT_EVEN_SQLITE = {"random-bytes", "text-file"}


class Snapshot:
    """A file's bytes, mtime and the SQLite side files next to it."""

    def __init__(self, path: Path):
        self.path = path
        self.digest, self.mtime_ns, self.side = self._take()

    def _take(self) -> tuple[str, int, dict[str, str]]:
        # -shm is SQLite's shared-memory index: every reader of a live WAL writes its read
        # marks there, so only its presence counts
        side = {
            s: "present" if s == "-shm" else hashlib.sha256(p.read_bytes()).hexdigest()
            for s in SIDE_FILES
            if (p := self.path.with_name(self.path.name + s)).exists()
        }
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return digest, self.path.stat().st_mtime_ns, side

    def assert_unchanged(self) -> None:
        digest, mtime_ns, side = self._take()
        assert digest == self.digest, f"{self.path.name}: bytes changed"
        assert mtime_ns == self.mtime_ns, f"{self.path.name}: mtime changed"
        assert side == self.side, f"{self.path.name}: side files {self.side} -> {side}"


def read_commands(db: Path, out: Path) -> dict[str, list[str]]:
    """Every command that only reads a store, on ``db``."""
    trace_db = ["--trace-db", str(db)]
    return {
        "traces list": ["traces", "list", *trace_db],
        "traces list --json": ["traces", "list", "--json", *trace_db],
        "traces show": ["traces", "show", f"{RUN}:0", *trace_db],
        "traces stats": ["traces", "stats", *trace_db],
        "traces frames": ["traces", "frames", f"{RUN}:0", "--out", str(out / "frames"), *trace_db],
        "filter": ["filter", *trace_db, "--output-dir", str(out / "export"), "--no-progress"],
    }


READ_COMMANDS = list(read_commands(Path("x"), Path("x")))


def assert_one_line_error(result: object, name: str, code: int) -> str:
    stderr = result.stderr
    assert result.returncode == code, (result.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), stderr
    message = " ".join(" ".join(lines).split())  # rich wraps long lines
    assert name in message, message
    return message


def record_store(folder: Path, seeds: str) -> Path:
    """A real store written by `vlmforge eval`: crafter episodes of 6 random steps, closed."""
    db = folder / "traces.db"
    args = ["eval", "--env", "crafter", "--policy", "random", "--seeds", seeds]
    args += ["--max-steps", "6", "--trace-db", str(db), "--run-name", RUN]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two crafter episodes (seeds 0-1)."""
    return record_store(tmp_path_factory.mktemp("recorded"), "0-1")


@pytest.fixture
def store_copy(recorded: Path, tmp_path: Path) -> Path:
    db = tmp_path / "traces.db"
    shutil.copy2(recorded, db)
    return db


# -- read commands on foreign files ---------------------------------------------------------
@pytest.mark.parametrize("command", READ_COMMANDS)
@pytest.mark.parametrize("kind", list(FOREIGN))
def test_a_read_command_refuses_a_foreign_file_and_leaves_it_as_it_was(
    kind: str, command: str, tmp_path: Path
) -> None:
    path = tmp_path / "other.db"
    FOREIGN[kind](path)
    before = Snapshot(path)

    result = run_cli(*read_commands(path, tmp_path)[command])

    message = assert_one_line_error(result, "other.db", 2)
    expected = {
        "empty-file": "is an empty SQLite file",
        "random-bytes": "is not an SQLite database",
        "text-file": "is not an SQLite database",
    }.get(kind, "not a vlmforge trace store")
    assert expected in message
    before.assert_unchanged()
    assert not (tmp_path / "frames").exists()
    if kind.startswith("other-app"):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == (
            "wal" if kind == "other-app-wal" else "delete"
        )
        con.close()
        assert "schema_version" not in tables


# -- write commands on foreign files -------------------------------------------------------
@pytest.mark.parametrize("kind", [k for k in FOREIGN if k != "empty-file"])
def test_eval_refuses_a_foreign_file_before_changing_it(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    FOREIGN[kind](path)
    before = Snapshot(path)

    result = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0", "--max-steps", "2",
        "--trace-db", str(path),
    )  # fmt: skip

    message = assert_one_line_error(result, "other.db", 2)
    if kind in NOT_EVEN_SQLITE:
        assert "is not an SQLite database" in message
    else:
        assert "not a vlmforge trace store" in message and "another application" in message
    before.assert_unchanged()


def test_eval_refuses_a_store_with_another_applications_table(
    store_copy: Path, tmp_path: Path
) -> None:
    con = sqlite3.connect(store_copy)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    before = Snapshot(store_copy)

    for args in (
        ["eval", "--env", "crafter", "--policy", "random", "--seeds", "5", "--max-steps", "2"],
        ["traces", "list"],
    ):
        result = run_cli(*args, "--trace-db", str(store_copy))
        message = assert_one_line_error(result, "traces.db", 2)
        assert "tables vlmforge does not create: invoices" in message
    before.assert_unchanged()


def test_eval_still_creates_a_store_in_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    result = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0", "--max-steps", "2",
        "--trace-db", str(path), "--run-name", RUN,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert run_cli("traces", "list", "--trace-db", str(path)).returncode == 0


# -- read commands on real stores ------------------------------------------------------------
@pytest.mark.parametrize("command", READ_COMMANDS)
def test_a_read_command_changes_nothing_in_a_real_store(
    command: str, store_copy: Path, tmp_path: Path
) -> None:
    before = Snapshot(store_copy)
    assert before.side == {}  # closed by eval: no -wal, no -shm

    result = run_cli(*read_commands(store_copy, tmp_path)[command])

    assert result.returncode == 0, result.stderr
    before.assert_unchanged()  # and no -wal / -shm left behind


@pytest.fixture
def live_writer(store_copy: Path) -> Iterator[sqlite3.Connection]:
    """Another process's view of a store being written: a connection holding a committed change
    in the -wal file, never checkpointed into the main file."""
    con = sqlite3.connect(store_copy)
    con.execute("PRAGMA wal_autocheckpoint = 0")
    con.execute("UPDATE run SET tags = ? WHERE name = ?", (json.dumps(["written-live"]), RUN))
    con.commit()
    yield con
    con.close()


@pytest.mark.parametrize("command", ["traces list", "traces show", "filter"])
def test_a_read_command_reads_a_live_wal_without_folding_it_in(
    command: str, store_copy: Path, live_writer: sqlite3.Connection, tmp_path: Path
) -> None:
    before = Snapshot(store_copy)
    assert before.side.get("-wal")  # the committed change is only in the WAL

    result = run_cli(*read_commands(store_copy, tmp_path)[command])
    assert result.returncode == 0, result.stderr
    before.assert_unchanged()

    listed = run_cli("traces", "list", "--json", "--trace-db", str(store_copy))
    assert json.loads(listed.stdout)["runs"][0]["tags"] == ["written-live"]
    before.assert_unchanged()


# -- schema versions ---------------------------------------------------------------------------
def _make_older(db: Path, *, drop_column: bool) -> None:
    """The store as an older vlmforge left it: the newest migration not recorded, and (when
    ``drop_column``) a column the readers select not there yet."""
    con = sqlite3.connect(db)
    con.execute("DELETE FROM schema_version WHERE version = ?", (LATEST_VERSION,))
    if drop_column:
        con.execute("ALTER TABLE episode DROP COLUMN owner")
    con.commit()
    con.close()


def test_an_older_store_the_readers_understand_is_read_unchanged(store_copy: Path) -> None:
    _make_older(store_copy, drop_column=False)
    before = Snapshot(store_copy)
    result = run_cli("traces", "list", "--json", "--trace-db", str(store_copy))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["episodes"]) == 2
    before.assert_unchanged()


def test_an_older_store_the_readers_cannot_read_says_to_migrate_it_first(
    store_copy: Path, tmp_path: Path
) -> None:
    _make_older(store_copy, drop_column=True)
    before = Snapshot(store_copy)
    for command in ("traces list", "filter"):
        result = run_cli(*read_commands(store_copy, tmp_path)[command])
        message = assert_one_line_error(result, "traces.db", 1)
        assert f"schema version {LATEST_VERSION - 1}" in message
        assert "episode.owner" in message and "write command" in message
        assert "vlmforge eval --trace-db" in message
    before.assert_unchanged()


def test_a_store_from_a_newer_vlmforge_is_refused_by_readers_and_writers(
    store_copy: Path,
) -> None:
    con = sqlite3.connect(store_copy)
    con.execute(
        "INSERT INTO schema_version VALUES (?, '2099-01-01', 'from the future')",
        (LATEST_VERSION + 1,),
    )
    con.commit()
    con.close()
    before = Snapshot(store_copy)
    for args in (
        ["traces", "list"],
        ["eval", "--env", "crafter", "--policy", "random", "--seeds", "7", "--max-steps", "2"],
    ):
        result = run_cli(*args, "--trace-db", str(store_copy))
        assert "newer than this vlmforge" in assert_one_line_error(result, "traces.db", 1)
    before.assert_unchanged()


def test_a_missing_file_is_not_created_by_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    for command, args in read_commands(path, tmp_path).items():
        result = run_cli(*args)
        assert "does not exist" in assert_one_line_error(result, "absent.db", 2), command
    assert sorted(os.listdir(tmp_path)) in ([], ["export"])  # filter's output folder at most


def test_a_writer_given_read_only_is_refused_before_writing(
    store_copy: Path, tmp_path: Path
) -> None:
    config = tmp_path / "eval.toml"
    config.write_text(
        'seeds = "3"\nmax_steps = 2\n[env]\nname = "crafter"\n[policy]\nname = "random"\n'
        f'[store]\npath = "{store_copy}"\nread_only = true\n'
    )
    before = Snapshot(store_copy)
    result = run_cli("eval", "--config", str(config))
    message = assert_one_line_error(result, "traces.db", 2)
    assert "read_only" in message
    before.assert_unchanged()
