"""An eval session as a library: ``EvalSession(config).run()`` is ``vlmforge eval`` without a CLI.

The session builds the environment, the policies and the trace store from an :class:`EvalConfig`,
creates each policy's run (or resumes it), plays the seeds with :class:`~vlmforge.runner.EvalRunner`
and summarizes every run from the store. It prints nothing: it reports through
:class:`SessionEvents` callbacks (the CLI turns them into a progress bar and messages).

::

    from vlmforge.eval_config import load_eval_config
    from vlmforge.eval_session import EvalSession

    results = EvalSession(load_eval_config("configs/eval_random.toml", {})).run()
    for played in results.runs:
        print(played.label, played.summary["unique_achievements_mean"])

A fatal policy error (:class:`~vlmforge.components.FatalPolicyError`) stops the session with a
:class:`~vlmforge.errors.VlmforgeError`; a stop request (:meth:`EvalSession.request_stop`, or
SIGINT/SIGTERM with ``handle_signals``) ends the current run early and ``results.interrupted``
says so. Each played run's :class:`RunOutcome` counts its done and failed episodes;
``results.failures()`` names the runs that finished no episode or failed more than
``max_failed_fraction`` of them (the CLI exits 1 on any). A full disk under the trace store
stops the session with a :class:`~vlmforge.errors.StorageFullError` naming the run to resume.

Every run is described and checked (its name is free, or ``--resume`` may continue it) after the
environment, the policies and the store are built and before the first run record is written,
so a session that cannot start leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmforge.components import Environment, EnvSpec, Policy, TraceStore
from vlmforge.errors import ConfigError, StorageFullError, VlmforgeError, is_disk_full
from vlmforge.eval_config import EvalConfig, LoadedEvalConfig, PolicySection
from vlmforge.pricing import ModelPrice
from vlmforge.resume import ResumePlan
from vlmforge.runner import EvalRunner, RunnerEvents, RunResult
from vlmforge.trace import EpisodeStatus, Run
from vlmforge.wording import plural, were

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class PlannedRun:
    """One policy's run: its config section, label and built policy; ``run``, ``summary`` and
    ``result`` are filled in as the session plays it."""

    label: str
    section: PolicySection
    policy: Policy
    run: Run | None = None
    summary: dict[str, Any] | None = None
    result: RunResult | None = None
    described: Run | None = None  # the run record to create or resume (set before any is)

    @property
    def outcome(self) -> RunOutcome | None:
        """The run's episode counts (all its episodes, earlier invocations' included)."""
        if self.summary is None:
            return None
        by_status = self.summary.get("episodes_by_status", {})
        return RunOutcome(
            done=int(by_status.get(EpisodeStatus.done.value, 0)),
            failed=int(by_status.get(EpisodeStatus.failed.value, 0)),
            interrupted=int(by_status.get(EpisodeStatus.interrupted.value, 0)),
        )


@dataclass(frozen=True)
class RunOutcome:
    """A run's episodes by outcome: ``done`` (played to the end or to ``max_steps``),
    ``failed`` (a policy or environment error ended it) and ``interrupted`` (a stop)."""

    done: int
    failed: int
    interrupted: int = 0

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def failed_fraction(self) -> float:
        """Failed episodes over finished ones (0.0 when none finished)."""
        return self.failed / self.finished if self.finished else 0.0

    def problem(self, max_failed_fraction: float) -> str | None:
        """Why this outcome fails the eval (None: it does not). A run with no finished
        episode at all (every seed interrupted, or run by another process) is not judged."""
        if self.finished == 0:
            return None
        if self.done == 0:
            return f"no episode completed (all {self.failed} failed)"
        if self.failed_fraction > max_failed_fraction:
            return (
                f"{self.failed} of {self.finished} episodes failed "
                f"({self.failed_fraction:.0%}, more than max_failed_fraction "
                f"{max_failed_fraction:g})"
            )
        return None


@dataclass
class EvalResults:
    """What :meth:`EvalSession.run` did: the runs it played (in order), whether it stopped,
    and the failure rule's limit (``max_failed_fraction``) :meth:`failures` applies."""

    runs: list[PlannedRun] = field(default_factory=list)  # played, each with its summary
    interrupted: str | None = None  # the name of the run a stop request ended early
    max_failed_fraction: float = 1.0

    def failures(self) -> list[str]:
        """One line per played run that failed the rule: no episode done (all failed), or more
        than ``max_failed_fraction`` of its finished episodes failed. Empty: the eval passed."""
        lines = []
        for item in self.runs:
            outcome = item.outcome
            problem = outcome.problem(self.max_failed_fraction) if outcome else None
            if problem is not None:
                name = item.run.name if item.run is not None else item.label
                lines.append(f"run '{name}': {problem}")
        return lines

    def summaries(self) -> list[dict[str, Any]]:
        return [p.summary for p in self.runs if p.summary is not None]

    def summary_doc(self) -> dict[str, Any]:
        """The ``--json-summary`` document: ``{"version": 1, "runs": [summary + label]}``."""
        return {
            "version": 1,
            "runs": [p.summary | {"label": p.label} for p in self.runs if p.summary is not None],
        }


def _no_runner_events(item: PlannedRun, total: int, many: bool) -> RunnerEvents | None:
    return None


def _ignore_run(item: PlannedRun) -> None:
    return None


def _ignore(message: str) -> None:
    return None


def _abort() -> None:
    raise KeyboardInterrupt


@dataclass
class SessionEvents:
    """What a session reports while it runs; every callback defaults to doing nothing.

    - ``run_started(item, seeds_to_play, many)``: a policy's run is about to play; may return
      :class:`RunnerEvents` for per-episode progress (``many``: several policies compared).
    - ``run_finished(item)``: that run stopped playing (always called after ``run_started``).
    - ``notice(text)``: a one-line message for the user (resuming, interrupted, stopping).
    - ``abort()``: a second stop signal arrived (``handle_signals``): stop now. The default
      raises :class:`KeyboardInterrupt`.
    """

    run_started: Callable[[PlannedRun, int, bool], RunnerEvents | None] = _no_runner_events
    run_finished: Callable[[PlannedRun], None] = _ignore_run
    notice: Callable[[str], None] = _ignore
    abort: Callable[[], None] = _abort


class EvalSession:
    """Plays every policy of an eval config on the same seeds and summarizes each run."""

    def __init__(
        self,
        config: EvalConfig | LoadedEvalConfig,
        registry: Any = None,
        *,
        resume: bool = False,
        prices: str | None = None,
        plugins_dirs: Sequence[str] = (),
        events: SessionEvents | None = None,
        handle_signals: bool = False,
    ):
        """``config``: a validated config (a :class:`LoadedEvalConfig` lets errors name file
        lines); ``registry``: default the installed plugins (plus ``plugins_dirs``);
        ``prices``: an extra prices TOML (default the config's ``prices``); ``handle_signals``:
        SIGINT/SIGTERM request a stop (the second one calls ``events.abort``)."""
        if isinstance(config, EvalConfig):
            config = LoadedEvalConfig(config)
        if registry is None:
            from vlmforge.plugins import get_registry

            registry = get_registry(tuple(plugins_dirs))
        self.registry, self.loaded, self.config = registry, config, config.config
        self.plugins_dirs = tuple(plugins_dirs)
        self.resume = resume
        self.prices_path = prices or self.config.prices
        self.events = events or SessionEvents()
        self.handle_signals = handle_signals
        self._runner: Any = None  # the EvalRunner (or RayExecutor) playing now
        self._stop_reason: str | None = None

    # -- control ---------------------------------------------------------------------------
    def request_stop(self, reason: str = "interrupted") -> None:
        """Stop the run in progress (episodes in flight are recorded as interrupted) and play
        no further policy. Thread-safe."""
        self._stop_reason = self._stop_reason or reason
        if self._runner is not None:
            self._runner.request_stop(reason)

    # -- building --------------------------------------------------------------------------
    def _build(self, kind: str, section: Any, name: str, index: int | None = None) -> Any:
        from vlmforge.components_build import build_component

        where, toml, prefix = self.loaded.locate(name, index)
        settings = section.settings()
        return build_component(
            self.registry, kind, section.name, settings, where=where, toml=toml, prefix=prefix
        )

    def _build_env(self) -> Any:
        from vlmforge.components_build import lookup
        from vlmforge.env_workers import EnvBuild, EnvWorkerPool, build_env

        assert self.config.env is not None  # load_eval_config requires it
        where, toml, prefix = self.loaded.locate("env")
        build = EnvBuild(
            name=self.config.env.name,
            settings=self.config.env.settings(),
            where=where,
            toml=toml,
            prefix=prefix,
            plugins_dirs=self.plugins_dirs,
            max_steps=self.config.max_steps,
        )
        if self.config.env_workers:
            lookup(self.registry, "environment", build.name, toml=toml, prefix=prefix)  # at once
            return EnvWorkerPool(build, self._useful_workers(self.config.env_workers))
        return build_env(self.registry, build)

    def _useful_workers(self, asked: int) -> int:
        """No more workers than seeds: a short eval does not start processes that would never
        get an episode. (Not capped by ``concurrency``: a spare worker takes over the next
        episodes when one dies.)"""
        return max(1, min(asked, len(self.config.seed_list())))

    def plan(self) -> list[PlannedRun]:
        """Build every policy and label its run; labels must be unique."""
        sections = self.config.policy_list()
        if not sections:
            raise ConfigError(
                f"{self.loaded.where}: no policy. Add a [policy] table (or [[policies]])."
            )
        many = self.config.policies is not None
        planned = []
        for i, section in enumerate(sections):
            policy = self._build(
                "policy", section, "policies" if many else "policy", i if many else None
            )
            model = policy.model_name()
            label = section.label or (f"{section.name}-{model}" if model else section.name)
            planned.append(
                PlannedRun(label=label.replace("/", "_"), section=section, policy=policy)
            )
        labels = [p.label for p in planned]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ConfigError(
                f"{self.loaded.where}: several policies would be labelled {', '.join(dupes)}; "
                'give each [[policies]] entry its own label = "...".'
            )
        return planned

    def run_name(self, label: str, n_policies: int) -> str:
        """The stored run's name: ``run_name`` (``-label`` when several), else label + time."""
        base = self.config.run_name
        if base is None:
            if self.resume:
                raise ConfigError(
                    "--resume needs the run's name: pass --run-name NAME (or run_name in the "
                    "config). `vlmforge traces list` shows the runs in a database."
                )
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            return f"{label}-{stamp}"
        return f"{base}-{label}" if n_policies > 1 else base

    # -- running ---------------------------------------------------------------------------
    def run(self) -> EvalResults:
        """Play every policy in turn (stopping at a stop request); writes ``json_summary``."""
        from vlmforge.pricing import load_prices

        if self.config.env is None:
            raise ConfigError(f"{self.loaded.where}: no environment. Add an [env] table.")
        prices = load_prices(self.prices_path)
        results = EvalResults(max_failed_fraction=self.config.max_failed_fraction)
        env = self._build_env()  # worker processes (env_workers) start here, in the background
        try:
            planned = self.plan()
            spec = env.spec()  # the env answers (a served one is reachable) before a store exists
            store = self._build("store", self.config.store, "store")
            try:
                self._check_outputs()
                self._describe_all(planned, env, spec, store)  # before any run is written
                for item in planned:
                    self._play(item, env, spec, store, prices, len(planned))
                    results.runs.append(item)
                    if item.result is not None and item.result.stopped:
                        assert item.run is not None
                        results.interrupted = item.run.name
                        break
            finally:
                store.close()
        finally:
            close_env = getattr(env, "close", None)  # env_workers: stop the processes
            if close_env is not None:
                close_env()
        self._write_json(results)
        return results

    def _check_outputs(self) -> None:
        """``frames_dir`` is a folder that can be made, ``json_summary`` not a folder: found
        now, not after a run is written."""
        frames, summary = self.config.frames_dir, self.config.json_summary
        if frames:
            try:
                Path(frames).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"frames_dir '{frames}' (--frames-dir) cannot be made a folder: "
                    f"{exc.strerror or exc}. Give a folder path."
                ) from None
        if summary and Path(summary).is_dir():
            raise ConfigError(
                f"json_summary '{summary}' (--json-summary) is a folder; give a file path."
            )

    def _describe_all(
        self, planned: list[PlannedRun], env: Environment, spec: EnvSpec, store: TraceStore
    ) -> None:
        """Describe every policy's run and check it can be opened (a new name, or ``--resume``
        with the same settings) before the first run record is written."""
        from vlmforge.resume import check_same_settings
        from vlmforge.session import describe_run

        assert self.config.env is not None
        seeds = self.config.seed_list()
        for item in planned:
            name = self.run_name(item.label, len(planned))
            item.described = described = describe_run(
                name,
                env_name=self.config.env.name,
                env=env,
                spec=spec,
                policy_name=item.section.name,
                policy=item.policy,
                seeds=seeds,
                tags=self.config.tags,
            )
            existing = store.get_run(name)
            if existing is None:
                continue
            if not self.resume:
                raise ConfigError(
                    f"a run named '{name}' already exists in the trace store; finish it with "
                    "--resume or choose another --run-name."
                )
            check_same_settings(existing, described)

    def _play(
        self,
        item: PlannedRun,
        env: Environment,
        spec: EnvSpec,
        store: TraceStore,
        prices: dict[str, ModelPrice],
        n: int,
    ) -> None:
        from vlmforge.session import open_run
        from vlmforge.summary import summarize

        described = item.described
        assert described is not None  # _describe_all ran first
        name = described.name
        if self.resume and store.get_run(name) is None:
            self.events.notice(f"no run named '{name}' yet: starting it.")
        try:
            opened = open_run(store, described, resume=self.resume)
        except StorageFullError as exc:
            raise StorageFullError(
                f"{exc} The run '{name}' was not started; free some space and run the "
                "command again."
            ) from None
        if opened.resumed is not None:
            self.events.notice(_resume_line(name, opened.resumed))
        item.run = opened.run
        again = self.config.run_name or name
        try:
            if self.config.ray is not None:  # the episodes on Ray actors (vlmforge.fanout)
                from vlmforge.fanout.executor import play_on_ray

                result = play_on_ray(self, item, opened.run, opened.to_run, spec, store, n > 1)
            else:
                runner = EvalRunner(
                    env=env,
                    spec=spec,
                    policy=item.policy,
                    store=store,
                    run=opened.run,
                    seeds=opened.to_run,
                    concurrency=self.config.concurrency,
                    max_steps=self.config.max_steps,
                    max_decisions=self.config.max_decisions,
                    frames_dir=Path(self.config.frames_dir) if self.config.frames_dir else None,
                )
                result = asyncio.run(self._drive(runner, item, len(opened.to_run), n > 1))
        except StorageFullError as exc:
            raise StorageFullError(
                f"{exc} Run '{name}' stopped: every step committed before is intact (the "
                "episodes in flight are replayed from the start on resume); free some space "
                f"and finish it with --resume --run-name {again}."
            ) from None
        item.result = result
        item.summary = summarize(store, opened.run, prices=prices, wall_time_s=result.wall_time_s)
        if result.fatal:
            raise VlmforgeError(
                f"policy '{item.section.name}' stopped the run '{name}': {result.stopped}. "
                f"{plural(len(result.not_started), 'episode')} {were(len(result.not_started))} "
                f"not started; fix the problem and "
                f"finish with --resume --run-name {again}."
            )
        if result.skipped:
            self.events.notice(
                f"run '{name}': {plural(len(result.skipped), 'seed')} {were(len(result.skipped))} "
                f"claimed or finished by another process meanwhile and skipped here "
                f"({_seed_list(result.skipped)})."
            )
        if result.stopped:
            self.events.notice(
                f"interrupted: run '{name}' stopped with {plural(len(result.not_started), 'seed')} "
                f"not started; finish it with --resume --run-name {again}."
            )

    async def _drive(self, runner: EvalRunner, item: PlannedRun, total: int, many: bool) -> Any:
        loop = asyncio.get_running_loop()
        interrupts = 0

        def on_signal() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                self.events.notice(
                    "stopping: finishing the steps in flight (Ctrl-C again to abort now)"
                )
                self.request_stop("interrupted")
            else:
                self.events.abort()

        if self.handle_signals:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, on_signal)
        self._runner = runner
        if self._stop_reason is not None:
            runner.request_stop(self._stop_reason)
        try:
            runner.events = self.events.run_started(item, total, many) or RunnerEvents()
            try:
                return await runner.run()
            finally:
                self.events.run_finished(item)
        finally:
            self._runner = None
            if self.handle_signals:
                for sig in STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            await item.policy.aclose()

    def _write_json(self, results: EvalResults) -> None:
        path = self.config.json_summary
        if not path:
            return
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(results.summary_doc(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            target.unlink(missing_ok=True)  # no half-written summary
            raise StorageFullError(
                f"the disk holding json_summary '{target}' is full ({exc.strerror}); the runs "
                "are complete in the trace store: `vlmforge traces stats` shows their numbers."
            ) from None


def _resume_line(name: str, plan: ResumePlan) -> str:
    return (
        f"resuming run '{name}': {plural(len(plan.kept), 'seed')} finished, "
        f"{len(plan.restarted)} interrupted restarted from scratch, "
        f"{len(plan.to_run)} to run"
        + (f", {len(plan.busy)} being run by another process (tried last)" if plan.busy else "")
    )


def _seed_list(seeds: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(s) for s in sorted(seeds)[:limit])
    return shown + (", ..." if len(seeds) > limit else "")
