"""A command that cannot do its job leaves nothing behind and overwrites nothing (issue 17,
item 8): an unreachable ``--env-url`` creates no trace database; ``models tiny --out`` refuses a
folder that holds something unless ``--overwrite``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_env_url_creates_no_trace_database(tmp_path: Path, cli) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = cli(
        "eval", "--env-url", url, "--policy", "random", "--seeds", "0-1",
        "--trace-db", "t.db", "--run-name", "r", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "no env server answered" in result.stderr and url in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no t.db, -wal, -shm
    # the same run can then be started once the server is up (nothing "already exists")


def test_models_tiny_refuses_a_folder_that_holds_something(tmp_path: Path, cli) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.txt").write_text("precious")
    result = cli("models", "tiny", "--out", str(out))
    assert result.returncode == 2
    assert "is not empty (thesis.txt); pass --overwrite" in result.stderr
    result = cli("models", "tiny", "--out", str(out), "--overwrite")
    assert result.returncode == 2 and "holds no model" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["thesis.txt"]
    assert (out / "thesis.txt").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    result = cli("models", "tiny", "--out", str(tmp_path / "file"))
    assert result.returncode == 2 and (tmp_path / "file").read_text() == "x"


@pytest.mark.train
def test_models_tiny_overwrite_replaces_a_model_folder_whole(tmp_path: Path, cli) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "stale-shard.safetensors").write_text("old")
    result = cli("models", "tiny", "--out", str(out))
    assert result.returncode == 2 and (out / "stale-shard.safetensors").exists()
    result = cli("models", "tiny", "--out", str(out), "--overwrite", "--vocab-size", "300")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    assert "stale-shard.safetensors" not in names
    assert {"config.json", "model.safetensors", "vlmforge_tiny.json"} <= names
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left
