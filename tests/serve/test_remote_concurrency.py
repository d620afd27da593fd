"""An eval over ``--env remote`` keeps as many env calls in flight as episodes in flight.

Remote calls wait on the network, not on this machine's cores, so they must not be capped at
about one thread per core (the cap for in-process environments).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.serve.conftest import Server

WAITING_PLUGIN = '''
"""A served environment whose steps wait 0.2 s (a slow network or a slow simulator) and record
how many steps were in flight at once."""
import os, threading, time

from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.hookspecs import hookimpl

TOOL = {"type": "function", "function": {"name": "interact", "parameters": {
    "type": "object", "properties": {"action": {"type": "string"}}, "required": ["action"]}}}
LOG = os.environ["WAITING_LOG"]
lock = threading.Lock()
in_flight = 0


class Episode:
    def __init__(self):
        self.t = 0

    def reset(self):
        return Observation(text="t 0")

    def step(self, tool_calls):
        global in_flight
        with lock:
            in_flight += 1
            with open(LOG, "a") as f:
                f.write(f"{in_flight}\\n")
        time.sleep(0.2)
        with lock:
            in_flight -= 1
        self.t += 1
        return StepOutcome(Observation(text=f"t {self.t}"), reward=0.0, actions=["wait"],
                           done=self.t >= 3, termination="three_steps" if self.t >= 3 else None)

    def close(self):
        pass


class Waiting:
    def spec(self):
        return EnvSpec(name="waiting", tools=[TOOL], system_prompt="Wait.", action_names=["wait"])

    def start(self, seed):
        return Episode()

    def config_dict(self):
        return {}


@hookimpl
def register_environments(register):
    register("waiting", Waiting, description="steps that wait")
'''


@pytest.mark.slow
def test_every_episode_in_flight_has_its_env_call_in_flight(serve, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "waiting.py").write_text(WAITING_PLUGIN)
    log = tmp_path / "in_flight.log"
    server: Server = serve(
        "--env", "waiting", "--plugins-dir", str(plugins), env={"WAITING_LOG": str(log)}
    )
    # more episodes in flight than the ~one-thread-per-core cap (cores + 2) of in-process envs,
    # and fewer than the server's 40 request threads
    concurrency = min(32, (os.cpu_count() or 2) + 4)
    db = tmp_path / "t.db"
    result = cli(
        "eval", "--env", "remote", "--env-url", server.url, "--policy", "random",
        "--seeds", f"0-{concurrency - 1}", "--concurrency", str(concurrency),
        "--trace-db", str(db),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as con:
        statuses = [row[0] for row in con.execute("SELECT status FROM episode")]
    assert statuses == ["done"] * concurrency
    counts = [int(line) for line in log.read_text().split()]
    assert len(counts) == 3 * concurrency  # every step reached the server once
    assert max(counts) == concurrency, counts
