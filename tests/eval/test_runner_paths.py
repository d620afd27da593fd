"""The runner's stop, fatal-error and failed-step paths: real crafter, real SQLite file.

The policies here are small real policies (they implement the Policy protocol around the
bundled ``random`` policy); what they record is read back from the database.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.eval.helpers import open_store
from vlmforge.components import Decision, EnvSpec, FatalPolicyError, Observation, PolicyError
from vlmforge.plugins import get_registry
from vlmforge.runner import EvalRunner, RunnerEvents, RunResult
from vlmforge.session import describe_run, open_run
from vlmforge.trace import Episode, LMCall, Step

MAX_STEPS = 30
FAIL_AT = 3  # the decision index at which the failing policies fail


class _Failing:
    """The random policy, failing at decision ``FAIL_AT`` of the seeds in ``fail_seeds``.

    ``how``: "decision" raises PolicyError with the decision it had (a failed LM call);
    "plain" raises PolicyError without one; "bug" raises a ValueError; "fatal" raises
    FatalPolicyError.
    """

    def __init__(self, how: str, fail_seeds: set[int]):
        self.inner = get_registry().create("policy", "random", {})
        self.how, self.fail_seeds = how, fail_seeds

    async def start_episode(self, env: EnvSpec, seed: int) -> Any:
        inner = await self.inner.start_episode(env, seed)
        return _FailingEpisode(inner, self.how if seed in self.fail_seeds else None)

    def describe(self) -> dict[str, Any]:
        return {"how": self.how}

    def model_name(self) -> str | None:
        return "failing"

    async def aclose(self) -> None:
        return None


class _FailingEpisode:
    def __init__(self, inner: Any, how: str | None):
        self.inner, self.how, self.calls = inner, how, 0

    async def act(self, observation: Observation) -> Decision:
        decision: Decision = await self.inner.act(observation)
        self.calls += 1
        if self.how is None or self.calls <= FAIL_AT:
            return decision
        if self.how == "decision":
            call = LMCall(provider="test", model="failing", error="HTTP 400: bad request")
            failed = Decision(prompt=decision.prompt, reply=None, tool_calls=[], lm_call=call)
            raise PolicyError("the model call failed", decision=failed)
        if self.how == "plain":
            raise PolicyError("no decision")
        if self.how == "bug":
            raise ValueError("a bug in the policy")
        raise FatalPolicyError("the API key was rejected")


def _runner(db: Path, policy: Any, seeds: list[int], **kw: Any) -> tuple[EvalRunner, Any, Any]:
    registry = get_registry()
    env = registry.create("environment", "crafter", {"max_steps": MAX_STEPS})
    store = open_store(db)
    spec = env.spec()
    run = describe_run(
        "paths", env_name="crafter", env=env, spec=spec, policy_name="failing", policy=policy,
        seeds=seeds,
    )  # fmt: skip
    opened = open_run(store, run, resume=False)
    runner = EvalRunner(
        env=env, spec=spec, policy=policy, store=store, run=opened.run, seeds=opened.to_run, **kw
    )
    return runner, store, opened.run


def _stored(store: Any, run_id: str) -> dict[int, tuple[Episode, list[Step]]]:
    return {e.seed: (e, list(store.steps(e.id))) for e in store.episodes([run_id])}


def test_failed_step_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    runner, store, run = _runner(tmp_path / "f.db", _Failing("decision", {1}), [0, 1, 2])
    try:
        result: RunResult = asyncio.run(runner.run())
        assert result.stopped is None and not result.fatal and result.not_started == []
        stored = _stored(store, run.id)
        episode, steps = stored[1]
        assert episode.status == "failed" and episode.termination == "policy_error"
        assert episode.error == "policy error: the model call failed"
        # the three good decisions, then the failed one: its prompt and LM call, no actions
        assert [s.index for s in steps] == [0, 1, 2, 3] and episode.steps == 4
        failed = steps[-1]
        assert failed.done and failed.termination == "policy_error" and failed.actions == []
        assert failed.error == "PolicyError: the model call failed"
        assert failed.lm_call is not None and failed.lm_call.error == "HTTP 400: bad request"
        assert failed.prompt and failed.observation.images  # the frame it was shown is kept
        store.image(failed.observation.images[0])  # ... and stored
        for seed in (0, 2):  # the other episodes ran to the end
            assert stored[seed][0].status == "done" and stored[seed][0].termination
    finally:
        store.close()


def test_policy_error_without_decision_and_policy_bug_fail_the_episode_only(
    tmp_path: Path,
) -> None:
    for how, error in (
        ("plain", "policy error: no decision"),
        ("bug", "policy error: ValueError: a bug in the policy"),
    ):
        runner, store, run = _runner(tmp_path / f"{how}.db", _Failing(how, {0}), [0, 1])
        try:
            result = asyncio.run(runner.run())
            assert result.stopped is None
            stored = _stored(store, run.id)
            episode, steps = stored[0]
            assert (episode.status, episode.error) == ("failed", error)
            assert len(steps) == FAIL_AT and not any(s.error for s in steps)  # nothing invented
            assert stored[1][0].status == "done"
        finally:
            store.close()


def test_fatal_error_stops_the_run(tmp_path: Path) -> None:
    seeds = [0, 1, 2, 3, 4, 5]
    runner, store, run = _runner(tmp_path / "x.db", _Failing("fatal", {0}), seeds, concurrency=2)
    try:
        result = asyncio.run(runner.run())
        assert result.fatal and result.stopped == "the API key was rejected"
        assert result.not_started == seeds[2:]  # no episode started after the error
        stored = _stored(store, run.id)
        assert sorted(stored) == [0, 1]
        episode, steps = stored[0]
        assert episode.status == "interrupted" and episode.termination == "interrupted"
        assert episode.error == "fatal policy error: the API key was rejected"
        assert len(steps) == FAIL_AT
        beside, steps = stored[1]  # the episode in flight beside it stopped too
        assert beside.status == "interrupted" and 0 < len(steps) < MAX_STEPS
        assert beside.error == "run stopped: the API key was rejected"
    finally:
        store.close()


def test_stop_request_interrupts_episodes_in_flight(tmp_path: Path) -> None:
    seeds = [0, 1, 2, 3, 4, 5]
    runner, store, run = _runner(
        tmp_path / "s.db", get_registry().create("policy", "random", {}), seeds, concurrency=2
    )
    recorded: list[int] = []

    def step_recorded(episode: Episode, step: Step) -> None:
        recorded.append(episode.seed)
        if len(recorded) == 5:
            runner.request_stop()

    runner.events = RunnerEvents(step_recorded=step_recorded)
    try:
        result = asyncio.run(runner.run())
        assert result.stopped == "interrupted" and not result.fatal
        assert result.not_started == seeds[2:]  # no episode started after the request
        stored = _stored(store, run.id)
        assert sorted(stored) == [0, 1]
        for episode, steps in stored.values():
            assert episode.status == "interrupted" and episode.termination == "interrupted"
            assert episode.error is None and len(steps) == episode.steps < MAX_STEPS
        # the steps in flight at the request completed and were recorded, nothing after them
        assert sum(len(steps) for _, steps in stored.values()) == len(recorded) >= 5
    finally:
        store.close()


def test_stop_requested_before_the_run_starts_nothing(tmp_path: Path) -> None:
    runner, store, run = _runner(
        tmp_path / "b.db", get_registry().create("policy", "random", {}), [0, 1]
    )
    runner.request_stop("shutting down")
    try:
        result = asyncio.run(runner.run())
        assert result.stopped == "shutting down" and result.not_started == [0, 1]
        assert list(store.episodes([run.id])) == []
    finally:
        store.close()
