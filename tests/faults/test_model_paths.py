"""A mistyped model or adapter fails at once and never tries the network (issue 17, item 8).

Each command runs as a real process with ``HF_ENDPOINT`` pointing at an HTTP server on
127.0.0.1 that counts the requests it gets, and an empty ``HF_HOME``: the error must come in
seconds, name the value, and no request may arrive.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.train


class _Hub(ThreadingHTTPServer):
    requests: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Hub

    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def hub() -> Iterator[_Hub]:
    server = _Hub(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run(hub: _Hub, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env |= {
        "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_address[1]}",
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "vlmforge", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("runs/nomodel", "model 'runs/nomodel': there is no such folder, and no model"),
        ("./runs/nomodel", "model folder './runs/nomodel' does not exist"),
        ("nomodel", "model 'nomodel': there is no such folder"),
    ],
)
def test_train_with_a_mistyped_model_fails_at_once(
    hub: _Hub, tmp_path: Path, model: str, expected: str
) -> None:
    (tmp_path / "train.jsonl").write_text("{}\n")
    result, seconds = _run(
        hub, tmp_path, "train", "--model", model, "--dataset", "train.jsonl", "--output-dir", "o"
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert seconds < 10, f"took {seconds:.1f} s"
    assert hub.requests == []
    assert not (tmp_path / "o").exists()


def test_hf_policy_with_a_mistyped_model_or_adapter_fails_at_once(
    hub: _Hub, tmp_path: Path
) -> None:
    base = ["eval", "--env", "crafter", "--policy", "hf", "--seeds", "0", "--trace-db", "t.db"]
    result, seconds = _run(hub, tmp_path, *base, "--model", "runs/nomodel")
    assert result.returncode == 2, result.stderr
    assert "model 'runs/nomodel': there is no such folder" in result.stderr
    assert seconds < 10 and hub.requests == []
    (tmp_path / "e.toml").write_text('[policy]\nname = "hf"\nadapter = "runs/noadapter"\n')
    result, seconds = _run(hub, tmp_path, *base, "--config", "e.toml")
    assert result.returncode == 2, result.stderr
    assert "adapter folder 'runs/noadapter' does not exist" in result.stderr
    assert seconds < 10 and hub.requests == []
    assert not (tmp_path / "t.db").exists()


def test_a_model_id_in_the_cache_loads_offline_only(hub: _Hub, tmp_path: Path) -> None:
    """An id whose cache folder exists (here: an incomplete download) is loaded with
    local_files_only: a clear error, no request to the hub."""
    (tmp_path / "hf-home" / "hub" / "models--owner--name").mkdir(parents=True)
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}, '
                                          '{"role": "assistant", "content": "ok"}]}\n')  # fmt: skip
    result, _ = _run(
        hub, tmp_path, "train", "--model", "owner/name", "--dataset", "train.jsonl",
        "--output-dir", "o",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "model 'owner/name' is neither a local folder nor a model id in the" in result.stderr
    assert "Traceback" not in result.stderr
    assert hub.requests == []
