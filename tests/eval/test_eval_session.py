"""An eval through the library API alone (no click): ``EvalSession(config).run()``.

Real crafter, the bundled random and scripted policies, a real SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.eval.helpers import open_store
from vlmforge.errors import ConfigError
from vlmforge.eval_config import EvalConfig
from vlmforge.eval_session import EvalSession, PlannedRun, SessionEvents
from vlmforge.runner import RunnerEvents
from vlmforge.trace import Episode


def _config(db: Path, **kw: Any) -> EvalConfig:
    data: dict[str, Any] = {
        "run_name": "lib",
        "seeds": "0-2",
        "max_steps": 25,
        "concurrency": 2,
        "env": {"name": "crafter"},
        "policy": {"name": "random"},
        "store": {"name": "sqlite", "path": str(db)},
    }
    data.update(kw)
    return EvalConfig.model_validate(data)


class _Recorder:
    """Session events, recorded."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int, bool]] = []
        self.finished: list[str] = []
        self.episodes: list[int] = []
        self.notices: list[str] = []

    def events(self) -> SessionEvents:
        return SessionEvents(
            run_started=self._started, run_finished=self._finished, notice=self.notices.append
        )

    def _started(self, item: PlannedRun, total: int, many: bool) -> RunnerEvents:
        self.started.append((item.label, total, many))
        return RunnerEvents(episode_finished=self._episode)

    def _finished(self, item: PlannedRun) -> None:
        self.finished.append(item.label)

    def _episode(self, episode: Episode) -> None:
        self.episodes.append(episode.seed)


def test_eval_through_the_library(tmp_path: Path) -> None:
    db, summary_path = tmp_path / "lib.db", tmp_path / "out" / "summary.json"
    seen = _Recorder()
    config = _config(db, json_summary=str(summary_path), tags=["library"])
    results = EvalSession(config, events=seen.events()).run()

    assert results.interrupted is None
    (played,) = results.runs
    assert played.label == "random" and played.run is not None and played.run.name == "lib"
    assert seen.started == [("random", 3, False)] and seen.finished == ["random"]
    assert sorted(seen.episodes) == [0, 1, 2] and seen.notices == []

    store = open_store(db)
    try:
        run = store.get_run("lib")
        assert run is not None and run.id == played.run.id
        assert run.seeds == [0, 1, 2] and run.tags == ["library"] and run.policy_name == "random"
        episodes = list(store.episodes([run.id]))
        assert sorted(e.seed for e in episodes) == [0, 1, 2]
        steps = 0
        for episode in episodes:
            assert episode.status == "done" and 0 < episode.env_steps <= 25
            stored = list(store.steps(episode.id))
            assert [s.index for s in stored] == list(range(episode.steps))
            assert stored[-1].done and all(s.tool_calls for s in stored)
            store.image(stored[0].observation.images[0])  # every frame is in the database
            steps += sum(len(s.actions) for s in stored)
    finally:
        store.close()

    summary = played.summary
    assert summary is not None and results.summaries() == [summary]
    assert summary["run_name"] == "lib" and summary["episodes"] == 3
    assert summary["steps"] == steps == sum(e.env_steps for e in episodes)
    assert summary["episodes_by_status"]["done"] == 3
    written = json.loads(summary_path.read_text())
    assert written == {"version": 1, "runs": [summary | {"label": "random"}]}


def test_compared_policies_and_a_resume(tmp_path: Path) -> None:
    db = tmp_path / "cmp.db"
    policies = [{"name": "random"}, {"name": "scripted", "label": "teacher"}]
    config = _config(db, seeds="0-1", max_steps=15, policies=[*policies], policy=None)
    results = EvalSession(config).run()
    assert [p.label for p in results.runs] == ["random", "teacher"]
    assert [p.run.name for p in results.runs if p.run] == ["lib-random", "lib-teacher"]
    assert all(p.summary and p.summary["episodes"] == 2 for p in results.runs)

    # more seeds, resumed: the finished ones are kept, only the new one is played
    seen = _Recorder()
    more = _config(db, seeds="0-2", max_steps=15, policies=[*policies], policy=None)
    again = EvalSession(more, resume=True, events=seen.events()).run()
    assert [total for _, total, _ in seen.started] == [1, 1]
    assert all(many for _, _, many in seen.started)
    assert seen.notices == [
        f"resuming run 'lib-{label}': 2 seeds finished, 0 interrupted restarted from scratch, "
        "1 to run"
        for label in ("random", "teacher")
    ]
    assert all(p.summary and p.summary["episodes"] == 3 for p in again.runs)


def test_a_stop_request_ends_the_session(tmp_path: Path) -> None:
    db = tmp_path / "stop.db"
    seen = _Recorder()
    session = EvalSession(_config(db, seeds="0-5", concurrency=1), events=seen.events())

    def stop_after_first(episode: Episode) -> None:
        session.request_stop()

    def started(item: PlannedRun, total: int, many: bool) -> RunnerEvents:
        return RunnerEvents(episode_finished=stop_after_first)

    session.events.run_started = started
    results = session.run()
    assert results.interrupted == "lib"
    assert seen.notices == [
        "interrupted: run 'lib' stopped with 4 seeds not started; finish it with "
        "--resume --run-name lib."
    ]
    (played,) = results.runs
    # the request reaches the loop after the next seed was taken: that episode is interrupted
    assert played.result is not None and played.result.not_started == [2, 3, 4, 5]
    assert [e.status for e in played.result.episodes] == ["done", "interrupted"]
    assert played.summary is not None
    by_status = played.summary["episodes_by_status"]
    assert (by_status["done"], by_status["interrupted"]) == (1, 1)


def test_an_existing_run_is_not_replaced(tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    EvalSession(_config(db, seeds="0", max_steps=5)).run()
    with pytest.raises(ConfigError, match="already exists"):
        EvalSession(_config(db, seeds="0", max_steps=5)).run()
