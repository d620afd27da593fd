"""Batched step writes (``vlmforge.step_writer``) with the real sqlite store and real Crafter.

What the batching promises: far fewer transactions than steps, the same trace as one write per
step, a step committed within the commit interval while its episode is still playing, an
episode's end written after its steps, and a failed batch failing every later one unwritten.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.eval.helpers import frame, make_run, open_store
from vlmforge.errors import VlmforgeError
from vlmforge.plugins import get_registry
from vlmforge.runner import EvalRunner
from vlmforge.session import describe_run, open_run
from vlmforge.step_writer import StepWriter
from vlmforge.trace import Episode, Step, StepObservation


def _play(db: Path, seeds: list[int], concurrency: int, max_steps: int) -> EvalRunner:
    registry = get_registry()
    env = registry.create("environment", "crafter", {"max_steps": max_steps})
    policy = registry.create("policy", "random", {})
    store = open_store(db)
    spec = env.spec()
    run = describe_run(
        "batched", env_name="crafter", env=env, spec=spec, policy_name="random", policy=policy,
        seeds=seeds,
    )  # fmt: skip
    opened = open_run(store, run, resume=False)
    runner = EvalRunner(
        env=env, spec=spec, policy=policy, store=store, run=opened.run, seeds=opened.to_run,
        concurrency=concurrency,
    )  # fmt: skip
    result = asyncio.run(runner.run())
    assert [e.status.value for e in result.episodes] == ["done"] * len(seeds)
    store.close()
    return runner


def _traces(db: Path) -> dict[int, tuple[dict, list[dict]]]:
    store = open_store(db)
    try:
        out = {}
        for e in store.episodes():
            steps = [
                s.model_dump(exclude={"episode_id", "started_at", "policy_latency_s",
                                      "env_latency_s"})
                for s in store.steps(e.id)
            ]  # fmt: skip
            counters = e.model_dump(
                include={"status", "steps", "env_steps", "total_reward", "achievements",
                         "termination", "tool_calls", "invalid_decisions"}
            )  # fmt: skip
            out[e.seed] = (counters, steps)
        return out
    finally:
        store.close()


def test_batches_hold_many_steps_and_the_trace_is_the_same_in_and_out_of_the_loop(
    tmp_path: Path,
) -> None:
    """One episode in flight (env on the loop) and two in flight (env threads): the same
    steps and counters per seed, written in far fewer transactions than steps."""
    one = _play(tmp_path / "one.db", [3, 4], concurrency=1, max_steps=40)
    three = _play(tmp_path / "three.db", [3, 4], concurrency=2, max_steps=40)
    a, b = _traces(tmp_path / "one.db"), _traces(tmp_path / "three.db")
    assert a == b and sorted(a) == [3, 4]
    steps = sum(len(s) for _, s in a.values())
    assert steps == 80
    assert one._inline_env and not three._inline_env
    # at most 64 steps a batch, at least one batch per episode end
    assert 2 <= one._writer.batches < steps / 4
    assert 2 <= three._writer.batches < steps / 4


def _step(episode: Episode, index: int) -> Step:
    return Step(episode_id=episode.id, index=index, observation=StepObservation(text=f"t {index}"))


def test_a_step_is_committed_within_the_interval_while_its_episode_plays(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = open_store(db)
    run = make_run()
    store.create_run(run)
    episode = Episode(id="e1", run_id=run.id, seed=0)
    store.start_episode(episode)

    def count() -> int:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT COUNT(*) FROM step").fetchone()[0])

    async def play() -> tuple[int, int, int]:
        with ThreadPoolExecutor(1) as pool:
            writer = StepWriter(store, pool, interval_s=0.05, max_steps=1000)
            done = await writer.add(_step(episode, 0), [frame(0)], episode)
            right_away = count()
            await asyncio.sleep(0.5)  # no commit asked for: the interval alone writes it
            later = count()
            assert done.done()
            await writer.add(_step(episode, 1), [frame(1)], episode)
            last = await writer.add(_step(episode, 2), [frame(1)], episode)
            await writer.commit(last)  # the episode's end: commits at once
            return right_away, later, writer.batches

    right_away, later, batches = asyncio.run(play())
    assert (right_away, later, count(), batches) == (0, 1, 3, 2)
    stored = store.get_episode("e1")
    assert stored is not None and stored.steps == 0  # counters are the snapshot passed in
    store.close()


def test_a_failed_batch_fails_every_later_one_unwritten(tmp_path: Path) -> None:
    """The first batch holds a step of an episode that is not in the store (its run removed
    meanwhile): that error reaches the next batch's episode too, and nothing of it is written,
    so no trace can have a gap."""
    db = tmp_path / "t.db"
    store = open_store(db)
    run = make_run()
    store.create_run(run)
    ok = Episode(id="ok", run_id=run.id, seed=1)
    store.start_episode(ok)
    gone = Episode(id="gone", run_id=run.id, seed=2)

    async def play() -> tuple[BaseException, BaseException]:
        with ThreadPoolExecutor(1) as pool:
            writer = StepWriter(store, pool, interval_s=10.0, max_steps=1000)
            first = await writer.add(_step(gone, 0), [], gone)
            writer.close()  # submitted
            second = await writer.add(_step(ok, 0), [frame(2)], ok)
            with pytest.raises(VlmforgeError) as one:
                await writer.commit(first)
            with pytest.raises(VlmforgeError) as two:
                await writer.commit(second)
            return one.value, two.value

    one, two = asyncio.run(play())
    assert "no longer in" in str(one) and two is one
    assert list(store.steps("ok")) == []
    store.close()


def test_a_short_eval_starts_no_idle_env_workers(tmp_path: Path) -> None:
    from vlmforge.eval_config import load_eval_config
    from vlmforge.eval_session import EvalSession

    config = tmp_path / "eval.toml"
    config.write_text(
        'seeds = "0-1"\nconcurrency = 8\nenv_workers = 4\n[env]\nname = "crafter"\n'
        '[policy]\nname = "random"\n',
        encoding="utf-8",
    )
    session = EvalSession(load_eval_config(str(config), {"trace_db": str(tmp_path / "t.db")}))
    pool = session._build_env()
    try:
        assert len(pool._workers) == 2  # two seeds: a third and fourth would never get one
        assert pool.spec().name == "crafter"
    finally:
        pool.close()
