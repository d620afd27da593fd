"""The async episode runner behind ``vlmforge eval``.

- Concurrency is the number of episodes in flight. Policies are awaited on the event loop;
  environment calls run in a thread pool (or are awaited, for an environment with
  ``async_calls`` such as the env workers) and store calls in one dedicated thread, so a slow
  environment step never starves the loop (or the other episodes' HTTP calls).
- Every step is recorded (:class:`vlmforge.trace.Step` built from the policy's
  :class:`~vlmforge.components.Decision` and the environment's
  :class:`~vlmforge.components.StepOutcome`) and committed with the episode's counters, in
  batches (:mod:`vlmforge.step_writer`: one transaction for the steps of every episode played in
  the last 0.25 s, at most 64); writes overlap the next decisions, and an episode's end is
  written after all its steps are committed.
- With one episode in flight, an in-process environment's calls run on the event loop itself
  (nothing else could run meanwhile; a thread hop per call costs more than it saves).
- ``PolicyError``: that episode is recorded as ``failed`` and the run goes on. When the error
  carries the policy's ``decision`` (the prompt, the failed LM call), that step is recorded too:
  the runner turns the error into a :class:`PolicyFailure` holding the failed :class:`Step`.
  ``FatalPolicyError``: the run stops at once; episodes in flight are recorded as
  ``interrupted`` (``--resume`` reruns them) and no further episode starts.
- :meth:`EvalRunner.request_stop` (SIGINT/SIGTERM): decisions in flight are cancelled, env steps
  and writes in flight complete, episodes in flight are recorded as ``interrupted``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmforge.components import (
    Decision,
    Environment,
    EnvSpec,
    FatalPolicyError,
    Observation,
    Policy,
    PolicyError,
    StepOutcome,
    TraceStore,
)
from vlmforge.images import PngImage
from vlmforge.step_writer import StepWriter
from vlmforge.trace import Episode, EpisodeStatus, Run, Step, StepObservation, utcnow


def new_id() -> str:
    """A short random id for runs and episodes."""
    return uuid.uuid4().hex[:16]


@dataclass
class RunnerEvents:
    """Callbacks for progress displays; called on the event-loop thread."""

    episode_started: Callable[[Episode], None] = lambda episode: None
    step_recorded: Callable[[Episode, Step], None] = lambda episode, step: None
    episode_finished: Callable[[Episode], None] = lambda episode: None
    # a seed another process had claimed or finished when this one came to it
    episode_skipped: Callable[[int], None] = lambda seed: None


@dataclass
class RunResult:
    """What one call of :meth:`EvalRunner.run` did."""

    episodes: list[Episode] = field(default_factory=list)  # finished here, any status
    not_started: list[int] = field(default_factory=list)  # seeds left when the run stopped
    skipped: list[int] = field(default_factory=list)  # claimed or finished by another process
    stopped: str | None = None  # "interrupted" or the fatal policy error
    fatal: bool = False
    wall_time_s: float = 0.0


class _Interrupted(Exception):
    """An episode stopped because the run is stopping."""


class EvalRunner:
    """Runs ``seeds`` of one run with ``concurrency`` episodes in flight."""

    def __init__(
        self,
        *,
        env: Environment,
        spec: EnvSpec,
        policy: Policy,
        store: TraceStore,
        run: Run,
        seeds: Sequence[int],
        concurrency: int = 1,
        max_steps: int | None = None,
        max_decisions: int | None = None,
        frames_dir: Path | None = None,
        events: RunnerEvents | None = None,
        env_threads: int | None = None,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.env, self.spec, self.policy, self.store, self.run_ = env, spec, policy, store, run
        self.seeds = list(seeds)
        self.concurrency = concurrency
        self.max_steps = max_steps
        self.max_decisions = max_decisions  # policy decisions (LM turns) per episode
        self.frames_dir = frames_dir
        self.events = events or RunnerEvents()
        # An env with async calls (worker processes) is awaited on the loop; an in-process env
        # runs in threads, no more of them than the cores can use, unless its calls only wait
        # on I/O (a remote env): then every episode in flight gets a thread.
        self._async_env = bool(getattr(env, "async_calls", False))
        # an env that can build worlds ahead of time (env workers) hears of each seed one wave
        # ahead: the seed `concurrency` places on is the next to start when an episode ends
        self._prefetch = getattr(env, "prefetch", None) if self._async_env else None
        self._taken = 0  # seeds taken from the run's list so far: a taken one is not announced
        io_bound = bool(getattr(env, "io_bound", False))
        self._inline_env = not self._async_env and not io_bound and concurrency == 1
        cap = concurrency if io_bound else (os.cpu_count() or 2) + 2
        self._env_pool = ThreadPoolExecutor(
            max_workers=env_threads or min(concurrency, cap),
            thread_name_prefix="vlmforge-env",
        )
        self._store_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlmforge-store")
        self._stop: asyncio.Event | None = None
        self._stop_reason: str | None = None
        self._fatal: FatalPolicyError | None = None
        self._acting: dict[str, asyncio.Future[Decision]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer = StepWriter(store, self._store_pool, frames_dir=frames_dir)

    # -- control ---------------------------------------------------------------------------
    def request_stop(self, reason: str = "interrupted") -> None:
        """Stop the run: no new episodes, decisions in flight cancelled. Thread-safe."""
        loop = self._loop
        if loop is None:
            self._stop_reason = self._stop_reason or reason
            return
        loop.call_soon_threadsafe(self._stop_now, reason)

    def _stop_now(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        if self._stop is not None:
            self._stop.set()
        for task in list(self._acting.values()):
            task.cancel()

    async def _in_env(self, target: Any, op: str, *args: Any) -> Any:
        """``target.op(*args)`` (``target.aop`` awaited for an env with async calls, else in an
        env thread); what it raises becomes an :class:`_EnvError`."""
        assert self._loop is not None
        try:
            if self._async_env:
                return await getattr(target, f"a{op}")(*args)
            if self._inline_env:
                return getattr(target, op)(*args)
            return await self._loop.run_in_executor(self._env_pool, getattr(target, op), *args)
        except Exception as exc:  # an env bug or a remote env failing: recorded on the episode
            raise _EnvError(f"{type(exc).__name__}: {exc}") from exc

    async def _in_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._store_pool, fn, *args)

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> RunResult:
        """Run every seed (or until stopped); returns what happened."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_reason is not None:
            self._stop.set()
        result = RunResult()
        started = time.perf_counter()
        pending: Iterator[tuple[int, int]] = iter(enumerate(self.seeds))
        try:
            workers = [
                asyncio.create_task(self._worker(pending, result))
                for _ in range(min(self.concurrency, len(self.seeds)))
            ]
            outcomes = await asyncio.gather(*workers, return_exceptions=True)
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            if errors:
                raise errors[0]
        finally:
            self._writer.close()
            self._env_pool.shutdown(wait=False, cancel_futures=True)
            self._store_pool.shutdown(wait=True)
            result.wall_time_s = time.perf_counter() - started
        result.not_started = [seed for _, seed in pending]
        if self._fatal is not None:
            result.stopped, result.fatal = str(self._fatal), True
        elif self._stop.is_set():
            result.stopped = self._stop_reason or "interrupted"
        return result

    async def _worker(self, seeds: Iterator[tuple[int, int]], result: RunResult) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            index, seed = next(seeds, (None, None))
            if index is None or seed is None:
                return
            self._taken = index + 1
            try:
                episode = await self._episode(seed, position=index)
            except BaseException:
                self._stop_now("error")  # a store failure or a bug: stop the other episodes
                raise
            if episode is None:
                result.skipped.append(seed)
                self.events.episode_skipped(seed)
            else:
                result.episodes.append(episode)

    async def _episode(self, seed: int, position: int) -> Episode | None:
        """Play ``seed`` (``position`` in the run's seeds), or return None if the store says
        another process holds or finished it (the claim is one transaction: several processes
        may run one run's seeds)."""
        episode = Episode(id=new_id(), run_id=self.run_.id, seed=seed)
        if not await self._in_store(self.store.claim_episode, episode):
            return None
        self.events.episode_started(episode)
        env_episode = None
        write: asyncio.Future[None] | None = None
        try:
            env_episode = await self._in_env(self.env, "start", seed)
            observation: Observation = await self._in_env(env_episode, "reset")
            ahead = position + self.concurrency
            if self._prefetch is not None and self._taken <= ahead < len(self.seeds):
                self._prefetch(self.seeds[ahead])
            episode_policy = await self._start_policy(episode)
            index = 0
            while True:
                images = observation.images
                step, observation = await self._step(
                    episode, episode_policy, env_episode, observation, index
                )
                if write is not None and write.done():
                    write.result()  # a failed batch write stops this episode here
                write = await self._record(episode, step, images)
                self.events.step_recorded(episode, step)
                index += 1
                if step.done:
                    episode.status = EpisodeStatus.done
                    episode.termination = step.termination
                    break
        except _Interrupted:
            episode.status, episode.termination = EpisodeStatus.interrupted, "interrupted"
            if self._fatal is not None:
                episode.error = f"run stopped: {self._fatal}"
        except PolicyFailure as failure:
            exc = failure.error
            if isinstance(exc, FatalPolicyError):
                if self._fatal is None:
                    self._fatal = exc
                self._stop_now("fatal policy error")
                episode.status, episode.termination = EpisodeStatus.interrupted, "interrupted"
                episode.error = f"fatal policy error: {exc}"
            else:
                episode.status, episode.termination = EpisodeStatus.failed, "policy_error"
                episode.error = f"policy error: {exc}"
            write = await self._record_failed(failure, write)
        except _EnvError as exc:
            episode.status, episode.termination = EpisodeStatus.failed, "env_error"
            episode.error = f"environment error: {exc}"
        finally:
            if write is not None:
                await self._writer.commit(write)
            if env_episode is not None:
                try:
                    await self._in_env(env_episode, "close")
                except _EnvError as exc:
                    episode.error = episode.error or f"environment close failed: {exc}"
        episode.finished_at = utcnow()
        await self._in_store(self.store.finish_episode, episode)
        self.events.episode_finished(episode)
        return episode

    async def _record_failed(
        self, failure: PolicyFailure, write: asyncio.Future[None] | None
    ) -> asyncio.Future[None] | None:
        """Record the failed step, if the policy's error carried one, after the last write."""
        if failure.step is None:
            return write
        return await self._record(failure.episode, failure.step, failure.images)

    async def _start_policy(self, episode: Episode) -> Any:
        try:
            return await self.policy.start_episode(self.spec, episode.seed)
        except PolicyError as exc:
            raise PolicyFailure(episode, exc) from exc
        except Exception as exc:  # a policy bug: recorded as this episode's failure
            error = PolicyError(f"{type(exc).__name__}: {exc}")
            raise PolicyFailure(episode, error) from exc

    async def _decide(self, episode: Episode, policy: Any, observation: Observation) -> Decision:
        assert self._stop is not None
        if self._stop.is_set():
            raise _Interrupted
        task: asyncio.Future[Decision] = asyncio.ensure_future(policy.act(observation))
        self._acting[episode.id] = task
        try:
            return await task
        except asyncio.CancelledError:
            if self._stop.is_set() and task.cancelled():
                raise _Interrupted from None
            raise
        except PolicyError:
            raise
        except Exception as exc:  # a policy bug: recorded as this episode's failure
            raise PolicyError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._acting.pop(episode.id, None)

    async def _step(
        self, episode: Episode, policy: Any, env_episode: Any, observation: Observation, index: int
    ) -> tuple[Step, Observation]:
        started_at = utcnow()
        t0 = time.perf_counter()
        try:
            decision = await self._decide(episode, policy, observation)
        except PolicyError as exc:
            if exc.decision is None:
                raise PolicyFailure(episode, exc) from exc
            # the prompt and the failed LM call are recorded as the episode's last step
            step = self._failed_step(episode, exc, observation, index, started_at, t0)
            episode.add_step(step)
            raise PolicyFailure(episode, exc, step, observation.images) from exc
        t1 = time.perf_counter()
        outcome: StepOutcome = await self._in_env(env_episode, "step", decision.tool_calls)
        t2 = time.perf_counter()
        step = _decided_step(
            episode,
            index,
            observation,
            decision,
            started_at,
            actions=outcome.actions,
            invalid=outcome.invalid,
            reward=outcome.reward,
            achievements=outcome.achievements,
            done=outcome.done,
            truncated=outcome.truncated,
            termination=outcome.termination,
            info=outcome.info,
            error=decision.error,
            policy_latency_s=t1 - t0,
            env_latency_s=t2 - t1,
        )
        episode.add_step(step)
        if self.max_steps is not None and episode.env_steps >= self.max_steps and not step.done:
            step.done, step.truncated, step.termination = True, True, "max_steps"
        if self.max_decisions is not None and index + 1 >= self.max_decisions and not step.done:
            step.done, step.truncated, step.termination = True, True, "max_decisions"
        return step, outcome.observation

    @staticmethod
    def _failed_step(
        episode: Episode,
        exc: PolicyError,
        observation: Observation,
        index: int,
        started_at: Any,
        t0: float,
    ) -> Step:
        decision = exc.decision
        assert decision is not None
        return _decided_step(
            episode,
            index,
            observation,
            decision,
            started_at,
            done=True,
            termination="policy_error",
            error=f"{type(exc).__name__}: {exc}",
            policy_latency_s=time.perf_counter() - t0,
        )

    async def _record(
        self, episode: Episode, step: Step, images: list[PngImage]
    ) -> asyncio.Future[None]:
        """Queue the step (and the episode's counters as of this step) for the next batch
        write; returns the future of that batch."""
        # the episode as of this step (usage is replaced, never mutated: sharing it is safe)
        snapshot = episode.model_copy(update={"achievements": list(episode.achievements)})
        return await self._writer.add(step, images, snapshot)


class _EnvError(Exception):
    """The environment raised while stepping (the episode is recorded as failed)."""


class PolicyFailure(Exception):
    """The policy failed in an episode: its error and, when the error carried the policy's
    :class:`~vlmforge.components.Decision`, the failed step to record (with its frames)."""

    def __init__(
        self,
        episode: Episode,
        error: PolicyError,
        step: Step | None = None,
        images: list[PngImage] | None = None,
    ):
        super().__init__(str(error))
        self.episode: Episode = episode
        self.error: PolicyError = error
        self.step: Step | None = step
        self.images: list[PngImage] = list(images or [])


def _decided_step(
    episode: Episode,
    index: int,
    observation: Observation,
    decision: Decision,
    started_at: Any,
    **outcome: Any,
) -> Step:
    """A step with what the policy decided (prompt, reply, tool calls, LM call); ``outcome``
    holds the rest of the step's fields."""
    return Step(
        episode_id=episode.id,
        index=index,
        observation=_step_observation(observation),
        prompt=decision.prompt,
        reply=decision.reply,
        tool_calls=decision.tool_calls,
        parsed_from_text=decision.parsed_from_text,
        lm_call=decision.lm_call,
        started_at=started_at,
        **outcome,
    )


def _step_observation(observation: Observation) -> StepObservation:
    text, truth, feedback = observation.text, observation.ground_truth, observation.feedback
    images = [image.sha256 for image in observation.images]
    if type(truth) is dict and isinstance(text, str | None) and isinstance(feedback, str | None):
        # already the right types: skip pydantic's walk over the ground truth (Crafter's is a
        # few hundred entries; validating it was ~2% of an in-process step's CPU)
        return StepObservation.model_construct(
            text=text, images=images, ground_truth=dict(truth), feedback=feedback
        )
    return StepObservation(text=text, images=images, ground_truth=truth, feedback=feedback)
