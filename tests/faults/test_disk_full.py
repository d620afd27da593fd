"""A full disk during ``vlmforge eval`` and ``vlmforge filter`` (issue 17, 4), on a real tmpfs.

Eval used to end in 109 lines of chained traceback ("cannot rollback"); filter with an
``OSError`` and an empty output folder. Now: one message naming the disk and what was kept,
exit 1, a readable database that ``--resume`` finishes once there is space, and no export
folder created or changed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.faults.tmpfs import grow, need_root, small_tmpfs

# Each commit appends ~130 KB of 16 KiB WAL pages: a 2 MiB disk holds a few 3-step episodes.
EVAL = ["eval", "--env", "crafter", "--policy", "random", "--seeds", "0-9", "--max-steps", "3",
        "--concurrency", "2", "--run-name", "n"]  # fmt: skip


def _vlmforge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    return subprocess.run(
        [sys.executable, "-m", "vlmforge", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def _episodes(db: Path) -> dict[str, tuple[int, str, int]]:
    """id -> (seed, status, stored steps), read without writing (the disk may be full)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT e.id, e.seed, e.status, (SELECT COUNT(*) FROM step s WHERE s.episode_id = e.id)"
            " FROM episode e"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_eval_on_a_full_disk_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        db = disk / "t.db"
        full = _vlmforge(*EVAL, "--trace-db", str(db))
        assert full.returncode == 1, full.stdout + full.stderr
        assert "Traceback" not in full.stderr and "rollback" not in full.stderr
        assert len(full.stderr.strip().splitlines()) <= 6, full.stderr  # one message
        err = " ".join(full.stderr.split())
        assert f"the disk holding trace store '{db}' is full" in err
        assert "every step committed before is intact" in err
        assert "--resume --run-name n" in err
        before = _episodes(db)  # the database is readable as it is
        kept = {i: e for i, e in before.items() if e[1] == "done"}
        assert kept and len(kept) < 10, before  # some episodes were committed, not all
        grow(disk, "32m")
        resumed = _vlmforge(*EVAL, "--trace-db", str(db), "--resume")
        assert resumed.returncode == 0, resumed.stderr
        after = _episodes(db)
    assert sorted(seed for seed, status, _ in after.values() if status == "done") == list(range(10))
    assert len(after) == 10  # one episode per seed: the interrupted ones were replayed
    assert all(after[i] == e for i, e in kept.items())  # committed episodes untouched
    assert all(steps > 0 for _, _, steps in after.values())


@pytest.fixture(scope="module")
def trace_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_root()  # no traces to make for tests that will be skipped
    db = tmp_path_factory.mktemp("traces") / "t.db"
    proc = run_cli(*EVAL[:5], "--seeds", "0-3", "--max-steps", "100", "--trace-db", str(db))
    assert proc.returncode == 0, proc.stderr
    return db


def _filter(db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("filter", "--trace-db", str(db), "--exporter", "openai-sft", "--output-dir",
                   str(out), "--no-progress", *extra)  # fmt: skip


def test_filter_on_a_full_disk_leaves_no_output_folder(tmp_path: Path, trace_db: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "512k") as disk:
        out = disk / "export" / "sft"
        proc = _filter(trace_db, out)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        err = " ".join(proc.stderr.split())
        assert "Traceback" not in proc.stderr and "OSError" not in proc.stderr
        assert f"the disk holding output_dir '{out}' is full" in err
        assert "the staging folder was removed" in err
        assert not out.exists()  # neither an empty nor a partial folder
        assert sum(f.stat().st_size for f in disk.rglob("*") if f.is_file()) == 0


def test_filter_on_a_full_disk_keeps_the_earlier_export(tmp_path: Path, trace_db: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "512k") as disk:
        out = disk / "sft"
        out.mkdir()
        earlier = {"train.jsonl": '{"earlier": 1}\n', "filter_stats.json": '{"rows": 1}\n'}
        for name, text in earlier.items():
            (out / name).write_text(text)
        proc = _filter(trace_db, out, "--overwrite")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "files already in the folder are untouched" in " ".join(proc.stderr.split())
        assert {p.name: p.read_text() for p in out.iterdir()} == earlier  # no staging folder
