"""The driver of a Ray eval: join (``[ray] address``) or start a cluster, create ``workers``
actors (:class:`~vlmforge.fanout.worker.EpisodeWorker`), hand each a seed at a time, and collect
what they played into the :class:`~vlmforge.runner.RunResult` a local runner would return.

An actor that dies (its process killed, its host gone) fails only the episode it was playing:
that episode is marked ``interrupted`` in the store (``--resume`` replays it), Ray restarts the
actor once, and the other seeds go on. Each actor writes the run's store itself, claiming each
seed first, exactly like a second ``vlmforge eval --resume`` process would.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from vlmforge.components import EnvSpec, EpisodeQuery, TraceStore
from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.fanout.config import RaySection
from vlmforge.fanout.worker import EpisodeWorker, Played, WorkerSpec
from vlmforge.redaction import is_secret_source_key
from vlmforge.runner import RunnerEvents, RunResult
from vlmforge.trace import EpisodeStatus, Run, utcnow

_POLL_S = 0.5
_CLOSE_S = 30.0
_RETRIES = 3  # a seed whose actor died before starting it is handed out again


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "[ray] needs Ray: pip install 'vlmforge[ray]' (or remove [ray] to play locally)."
        ) from None
    return ray


def connect(section: RaySection) -> Any:
    """The ``ray`` module, connected: to ``address``, or to a local cluster started with room
    for every actor. An already connected process (a script, a test) keeps its connection."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        if section.address is None:
            cpus = max(1, int(section.workers * section.cpus_per_worker + 0.999))
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=section.address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = section.address or "a local cluster"
        raise VlmforgeError(
            f"cannot connect to the Ray cluster at {where}: {exc}. Is `ray start --head` "
            "running there ([ray] address)?"
        ) from None
    return ray


def forwarded_env(section: RaySection, *settings: dict[str, Any]) -> dict[str, str]:
    """The variables the actors get from this process: ``env_vars`` and those the settings name
    where a secret comes from (``api_key_env = "MY_KEY"``), when set here."""
    names = list(section.env_vars)
    for values in settings:
        names.extend(
            str(v) for k, v in _items(values) if isinstance(v, str) and is_secret_source_key(k)
        )
    return {n: os.environ[n] for n in dict.fromkeys(names) if n in os.environ}


def _items(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out.append((str(k), v))
            out.extend(_items(v))
        return out
    if isinstance(value, list):
        return [item for v in value for item in _items(v)]
    return []


def absolute_paths(settings: dict[str, Any]) -> dict[str, Any]:
    """A store's ``path`` made absolute: an actor's working folder is not the driver's."""
    out = dict(settings)
    if isinstance(out.get("path"), str):
        out["path"] = str(Path(out["path"]).expanduser().absolute())
    return out


class RayExecutor:
    """Plays one run's seeds on Ray actors (``play``); ``request_stop`` ends it early."""

    def __init__(self, section: RaySection, spec: WorkerSpec):
        self.section, self.spec = section, spec
        self._stop_reason: str | None = None

    def request_stop(self, reason: str = "interrupted") -> None:
        """No further seed is handed out; the episodes in flight finish. Thread-safe."""
        self._stop_reason = self._stop_reason or reason

    def play(
        self,
        run: Run,
        seeds: list[int],
        store: TraceStore,
        events: RunnerEvents | None = None,
    ) -> RunResult:
        ray = connect(self.section)
        events = events or RunnerEvents()
        actor_class = ray.remote(max_restarts=0, max_task_retries=0)(EpisodeWorker)

        def new_actor() -> Any:
            return actor_class.options(num_cpus=self.section.cpus_per_worker).remote(self.spec)

        result = RunResult()
        started = time.perf_counter()
        actors = [new_actor() for _ in range(min(self.section.workers, len(seeds)))]
        _check_started(ray, actors)
        pending = list(seeds)
        lost: dict[int, int] = {}  # seed -> times its actor died before it started
        in_flight: dict[Any, tuple[int, int]] = {}  # task -> (actor slot, seed)
        try:
            while pending or in_flight:
                busy = {slot for slot, _ in in_flight.values()}
                for slot, actor in enumerate(actors):
                    if slot in busy or not pending or self._stop_reason or result.fatal:
                        continue
                    seed = pending.pop(0)
                    in_flight[actor.play.remote(run, seed)] = (slot, seed)
                if not in_flight:
                    break
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=_POLL_S)
                for ref in done:
                    slot, seed = in_flight.pop(ref)
                    if self._collect(ray, ref, seed, run, store, result, events):
                        continue
                    # the actor died: a new one takes its slot; a seed it had not started yet
                    # is handed out again (a few times at most)
                    ray.kill(actors[slot])
                    actors[slot] = new_actor()
                    if not any(e.seed == seed for e in result.episodes[-1:]):
                        lost[seed] = lost.get(seed, 0) + 1
                        if lost[seed] <= _RETRIES:
                            pending.insert(0, seed)
                        else:
                            result.not_started.append(seed)
        finally:
            _close_all(ray, actors)
            result.wall_time_s = time.perf_counter() - started
        result.not_started.extend(pending)
        if result.stopped is None and self._stop_reason is not None:
            result.stopped = self._stop_reason
        return result

    def _collect(
        self,
        ray: Any,
        ref: Any,
        seed: int,
        run: Run,
        store: TraceStore,
        result: RunResult,
        events: RunnerEvents,
    ) -> bool:
        """Add what task ``ref`` played to ``result``; False when its actor died."""
        try:
            played: Played = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as exc:
            for episode in abandon(store, run, seed, _first_line(exc)):
                result.episodes.append(episode)
                events.episode_finished(episode)
            return False
        except ray.exceptions.RayTaskError as exc:  # a store failure or a bug in the actor
            raise VlmforgeError(f"the Ray actor playing seed {seed} failed: {exc}") from None
        if played.episode is None:
            result.skipped.append(seed)
            events.episode_skipped(seed)
        else:
            result.episodes.append(played.episode)
            events.episode_finished(played.episode)
        if played.fatal is not None and not result.fatal:
            result.stopped, result.fatal = played.fatal, True
        return True


def _check_started(ray: Any, actors: list[Any]) -> None:
    """Wait for the first actors to be built; one that cannot build its environment, policy or
    store (a plugin or a variable missing on its host) is a clear error, not a dead actor."""
    try:
        ray.get([actor.owner.remote() for actor in actors])
    except ray.exceptions.RayActorError as exc:
        _close_all(ray, actors)
        detail = " ".join(str(exc).split())[-600:]
        raise VlmforgeError(
            f"the Ray actors could not start: {detail} Is vlmforge (with the plugins and "
            "variables the config needs) installed on every host of the cluster?"
        ) from None


def _close_all(ray: Any, actors: list[Any]) -> None:
    """Close every actor's policy, store and environment (a store's files are left tidy), then
    end the actors; one that does not answer within ``_CLOSE_S`` is killed."""
    closing = [actor.close.remote() for actor in actors]
    ray.wait(closing, num_returns=len(closing), timeout=_CLOSE_S)
    for actor in actors:
        ray.kill(actor)


def abandon(store: TraceStore, run: Run, seed: int, why: str) -> list[Any]:
    """Mark the running attempt of ``seed`` (its actor died) ``interrupted``: ``--resume``
    replays it. Returns the episodes marked."""
    marked = []
    query = EpisodeQuery(run_ids=[run.id], seeds=[seed], statuses=[EpisodeStatus.running])
    for episode in list(store.episodes(query=query)):
        episode.status, episode.termination = EpisodeStatus.interrupted, "interrupted"
        episode.error = f"the Ray actor playing it died: {why}"
        episode.finished_at = utcnow()
        store.finish_episode(episode)
        marked.append(episode)
    return marked


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def worker_spec(
    session: Any, section: RaySection, policy_section: Any, spec: EnvSpec
) -> WorkerSpec:
    """What the actors of an :class:`~vlmforge.eval_session.EvalSession`'s run need."""
    from vlmforge.env_workers import EnvBuild

    config = session.config
    where, toml, prefix = session.loaded.locate("env")
    env_settings = config.env.settings()
    policy_settings = policy_section.settings()
    store_settings = absolute_paths(config.store.settings())
    return WorkerSpec(
        env=EnvBuild(
            name=config.env.name,
            settings=env_settings,
            where=where,
            toml=toml,
            prefix=prefix,
            plugins_dirs=session.plugins_dirs,
            max_steps=config.max_steps,
        ),
        policy_name=policy_section.name,
        policy_settings=policy_settings,
        store_name=config.store.name,
        store_settings=store_settings,
        spec=spec,
        max_steps=config.max_steps,
        max_decisions=config.max_decisions,
        frames_dir=str(Path(config.frames_dir).absolute()) if config.frames_dir else None,
        plugins_dirs=session.plugins_dirs,
        env_vars=forwarded_env(section, env_settings, policy_settings, store_settings),
    )


def play_on_ray(
    session: Any,
    item: Any,
    run: Run,
    seeds: list[int],
    spec: EnvSpec,
    store: TraceStore,
    many: bool,
) -> RunResult:
    """The session's run ``item`` played on Ray (the seam in ``EvalSession._play``)."""
    section = session.config.ray
    executor = RayExecutor(section, worker_spec(session, section, item.section, spec))
    session._runner = executor  # request_stop reaches it
    if session._stop_reason is not None:
        executor.request_stop(session._stop_reason)
    try:
        events = session.events.run_started(item, len(seeds), many) or RunnerEvents()
        try:
            result = executor.play(run, seeds, store, events)
        finally:
            session.events.run_finished(item)
        died = [e.seed for e in result.episodes if e.status is EpisodeStatus.interrupted]
        if died and not result.stopped:
            again = session.config.run_name or run.name
            session.events.notice(
                f"run '{run.name}': the Ray actors playing {len(died)} episode(s) died (seeds "
                f"{', '.join(map(str, sorted(died)))}); they are marked interrupted: finish "
                f"the run with --resume --run-name {again}."
            )
        return result
    finally:
        session._runner = None
        asyncio.run(item.policy.aclose())  # the driver's own copy, built to describe the run
