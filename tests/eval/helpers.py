"""Helpers for the eval tests: opening stores, building realistic steps."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from vlmforge.images import PngImage, encode_png
from vlmforge.trace import (
    Attempt,
    Episode,
    EpisodeStatus,
    FunctionCall,
    ImagePart,
    InvalidAction,
    LMCall,
    Message,
    Run,
    Step,
    StepObservation,
    TextPart,
    ToolCall,
    Usage,
)
from vlmforge_sqlite.store import SqliteStore, SqliteStoreConfig


def open_store(path: Path, **settings: Any) -> SqliteStore:
    return SqliteStore(SqliteStoreConfig(path=str(path), **settings))


def frame(seed: int) -> PngImage:
    rng = np.random.default_rng(seed)
    return encode_png(rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8))


def make_run(run_id: str = "run1", name: str = "run-one", **kw: Any) -> Run:
    fields: dict[str, Any] = dict(
        id=run_id,
        name=name,
        vlmforge_version="test",
        env_name="crafter",
        policy_name="openai",
        policy_config={"model": "m", "temperature": 0.5},
        model="m",
        seeds=[0, 1],
        tools=[{"type": "function", "function": {"name": "interact", "parameters": {}}}],
        system_prompt="You play Crafter.",
        achievements=["collect_wood", "place_table"],
    )
    fields.update(kw)
    return Run(**fields)


def make_step(episode_id: str, index: int, image: PngImage, **kw: Any) -> Step:
    call = ToolCall(id=f"call_{index}", function=FunctionCall(name="interact", arguments='{"a":1}'))
    earlier = ToolCall(id="call_prev", function=FunctionCall(name="interact", arguments="{}"))
    history = Message(role="assistant", content="earlier reply", tool_calls=[earlier])
    fields: dict[str, Any] = dict(
        episode_id=episode_id,
        index=index,
        observation=StepObservation(
            text=f"step {index} text",
            images=[image.sha256],
            ground_truth={"pos": [1, index]},
            feedback="previous call was invalid" if index else None,
        ),
        prompt=[
            Message(role="system", content="You play Crafter."),
            history,
            Message(
                role="user",
                content=[
                    TextPart(text=f"step {index} text"),
                    ImagePart(sha256=image.sha256, detail="low"),
                ],
            ),
        ],
        reply=Message(role="assistant", content="I will move", tool_calls=[call]),
        tool_calls=[call],
        lm_call=LMCall(
            provider="openai",
            model="m",
            params={"temperature": 0.5},
            finish_reason="tool_calls",
            usage=Usage(prompt_tokens=100 + index, completion_tokens=7, total_tokens=107 + index),
            latency_s=0.25,
            retries=1,
            attempts=[
                Attempt(
                    attempt=1, status=429, latency_s=0.1, error="rate limited", retry_after_s=0.05
                ),
                Attempt(attempt=2, status=200, latency_s=0.15),
            ],
        ),
        actions=["move_left", "do"],
        invalid=[InvalidAction(kind="extra_tool_calls", detail="2 calls", tool_call_id="x")]
        if index == 1
        else [],
        reward=0.1 * (index + 1),
        achievements=["collect_wood"] if index == 1 else [],
        info={"env_steps": 2 * (index + 1), "nested": {"a": [1, 2.5, None]}},
        policy_latency_s=0.25,
        env_latency_s=0.002,
    )
    fields.update(kw)
    return Step(**fields)


def make_episode(episode_id: str, run_id: str = "run1", seed: int = 0) -> Episode:
    return Episode(id=episode_id, run_id=run_id, seed=seed)


def count(db: Path, sql: str, *params: Any) -> Any:
    with sqlite3.connect(db) as con:
        return con.execute(sql, params).fetchone()[0]


def wait_for_steps(db: Path, n: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until ``proc`` (an eval writing ``db``) has recorded ``n`` steps; fail if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as con:
                    if con.execute("SELECT COUNT(*) FROM step").fetchone()[0] >= n:
                        return
            except sqlite3.OperationalError:
                pass  # tables not created yet
        time.sleep(0.02)
    raise AssertionError("the eval recorded no steps in time")


def assert_every_seed_once(store: Any, seeds: list[int], name: str = "N") -> None:
    """Run ``name`` in ``store`` has exactly one episode per seed, done, with one uninterrupted
    trajectory (steps 0..n-1, as many as its counters say, every action counted)."""
    run = store.get_run(name)
    assert run is not None
    episodes = list(store.episodes([run.id]))
    assert sorted(e.seed for e in episodes) == seeds, [(e.seed, e.status) for e in episodes]
    for e in episodes:
        assert e.status is EpisodeStatus.done, (e.seed, e.status, e.error)
        steps = list(store.steps(e.id))
        assert [s.index for s in steps] == list(range(e.steps)) and e.steps > 0
        assert sum(len(s.actions) for s in steps) == e.env_steps
