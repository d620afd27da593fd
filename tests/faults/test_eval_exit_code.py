"""``vlmforge eval`` fails (exit 1) when a run finished no episode or too many failed (issue 17, 6).

It used to exit 0 when a provider answered every call with a 500, so ``eval && filter`` went on
with nothing. The provider here is the loopback OpenAI-protocol server (real HTTP).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli
from tests.eval.helpers import open_store
from vlmforge.eval_config import load_eval_config
from vlmforge.eval_session import EvalSession
from vlmforge.testing.openai_server import OpenAIServer, Reply

KEY = "sk-loopback-exitcode-0123456789abcdef"
ENV = {"LOOPBACK_API_KEY": KEY}


def _config(tmp_path: Path, base_url: str, *, seeds: str, extra: str = "") -> Path:
    path = tmp_path / "eval.toml"
    path.write_text(
        f'run_name = "r"\nseeds = "{seeds}"\nconcurrency = 1\nmax_steps = 3\n{extra}\n'
        '[env]\nname = "crafter"\n\n'
        f'[policy]\nname = "openai"\nmodel = "test-model"\nbase_url = "{base_url}"\n'
        'api_key_env = "LOOPBACK_API_KEY"\nmax_retries = 0\n'
    )
    return path


def _down(request) -> Reply:
    return Reply.error(500, "upstream is down")


def _act(request) -> Reply:
    return Reply.tool_call("interact", {"action": "noop"})


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}


def _statuses(db: Path) -> list[str]:
    store = open_store(db)
    try:
        return sorted(e.status.value for e in store.episodes())
    finally:
        store.close()


def test_every_episode_failing_exits_1_from_the_real_entry_point(tmp_path: Path) -> None:
    with OpenAIServer(_down) as server:
        config = _config(tmp_path, server.base_url, seeds="0-2")
        summary = tmp_path / "s.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "vlmforge",
                "eval",
                "--config",
                str(config),
                "--trace-db",
                str(tmp_path / "t.db"),
                "--json-summary",
                str(summary),
            ],
            capture_output=True,
            text=True,
            env={**_clean_env(), **ENV},
            timeout=120,
        )
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "run 'r': no episode completed (all 3 failed)" in err
    assert "--max-failed-fraction" in err and "Traceback" not in proc.stderr
    assert _statuses(tmp_path / "t.db") == ["failed"] * 3  # recorded, not lost
    assert json.loads(summary.read_text())["runs"][0]["episodes_by_status"]["failed"] == 3


def test_a_few_failures_pass_and_the_fraction_is_configurable(tmp_path: Path) -> None:
    # concurrency 1: the first episode's first call gets the 500, the other three play on
    with OpenAIServer([Reply.error(500, "blip")], default=_act(None)) as server:
        config = _config(tmp_path, server.base_url, seeds="0-3")
        ok = run_cli("eval", "--config", str(config), "--trace-db", str(tmp_path / "a.db"), env=ENV)
    assert ok.returncode == 0, ok.stderr  # 1 of 4 failed: within the default 0.5
    assert _statuses(tmp_path / "a.db") == ["done", "done", "done", "failed"]
    with OpenAIServer([Reply.error(500, "blip")], default=_act(None)) as server:
        config = _config(tmp_path, server.base_url, seeds="0-3")
        strict = run_cli(
            "eval",
            "--config",
            str(config),
            "--trace-db",
            str(tmp_path / "b.db"),
            "--max-failed-fraction",
            "0.2",
            env=ENV,
        )
    assert strict.returncode == 1, strict.stderr
    assert "1 of 4 episodes failed (25%, more than max_failed_fraction 0.2)" in " ".join(
        strict.stderr.split()
    )


def test_most_failing_exits_1_unless_the_config_tolerates_it(tmp_path: Path) -> None:
    three_down = [Reply.error(500, "down")] * 3
    with OpenAIServer(list(three_down), default=_act(None)) as server:
        config = _config(tmp_path, server.base_url, seeds="0-3")
        proc = run_cli(
            "eval", "--config", str(config), "--trace-db", str(tmp_path / "a.db"), env=ENV
        )
    assert proc.returncode == 1, proc.stderr
    assert "3 of 4 episodes failed (75%" in " ".join(proc.stderr.split())
    with OpenAIServer(list(three_down), default=_act(None)) as server:
        config = _config(tmp_path, server.base_url, seeds="0-3", extra="max_failed_fraction = 0.8")
        tolerated = run_cli(
            "eval", "--config", str(config), "--trace-db", str(tmp_path / "b.db"), env=ENV
        )
    assert tolerated.returncode == 0, tolerated.stderr


def test_the_library_reports_the_counts_the_cli_decides_on(tmp_path: Path, monkeypatch) -> None:
    from vlmforge.eval_session import RunOutcome

    monkeypatch.setenv("LOOPBACK_API_KEY", KEY)
    with OpenAIServer([Reply.error(500, "down")] * 2, default=_act(None)) as server:
        config = _config(tmp_path, server.base_url, seeds="0-2")
        loaded = load_eval_config(str(config), {"trace_db": str(tmp_path / "t.db")})
        results = EvalSession(loaded).run()
    (played,) = results.runs
    assert played.outcome == RunOutcome(done=1, failed=2, interrupted=0)
    assert results.max_failed_fraction == 0.5
    assert results.failures() == [
        "run 'r': 2 of 3 episodes failed (67%, more than max_failed_fraction 0.5)"
    ]
    assert RunOutcome(done=0, failed=0, interrupted=3).problem(0.0) is None  # nothing finished


def test_an_out_of_range_fraction_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli(
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--max-failed-fraction",
        "1.5",
        "--trace-db",
        str(tmp_path / "t.db"),
    )
    assert proc.returncode == 2 and "max_failed_fraction" in proc.stderr
    assert not (tmp_path / "t.db").exists()


def test_a_provider_that_hangs_fails_every_episode_and_exits_1(tmp_path: Path) -> None:
    with OpenAIServer(lambda request: Reply.slow(5.0)) as server:
        config = _config(tmp_path, server.base_url, seeds="0-1")
        config.write_text(config.read_text() + "timeout = 0.3\n")  # [policy] is the last table
        proc = run_cli("eval", "--config", str(config), "--trace-db", str(tmp_path / "t.db"),
                       "--concurrency", "2", env=ENV)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "no episode completed (all 2 failed)" in " ".join(proc.stderr.split())
    assert _statuses(tmp_path / "t.db") == ["failed", "failed"]
