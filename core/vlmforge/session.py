"""Runs in a trace store as a library: describe a run, start it or resume it, play its seeds.

This is what ``vlmforge eval`` does for each policy, without the command line: the eval
session (:class:`vlmforge.eval_session.EvalSession`, behind the CLI) and trainers that roll out
episodes (``grpo``) call the same functions, so every rollout is a run like any other
(resumable, filterable, exportable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmforge import __version__
from vlmforge.components import Environment, EnvSpec, Policy, TraceStore
from vlmforge.errors import ConfigError, RunExistsError
from vlmforge.redaction import redact_config, remember_config_secrets
from vlmforge.resume import ResumePlan, check_same_settings, plan_resume
from vlmforge.runner import EvalRunner, RunResult, new_id
from vlmforge.trace import Run


def describe_run(
    name: str,
    *,
    env_name: str,
    env: Environment,
    spec: EnvSpec,
    policy_name: str,
    policy: Policy,
    seeds: Sequence[int],
    tags: Sequence[str] = (),
) -> Run:
    """A new run record for ``policy`` on ``env`` (settings redacted, tools stored once).

    The secrets the settings hold or name (``api_key_env``) are remembered first, so the store
    redacts them wherever they appear in the run's text.
    """
    env_config, policy_config = env.config_dict(), policy.describe()
    remember_config_secrets(env_config)
    remember_config_secrets(policy_config)
    return Run(
        id=new_id(),
        name=name,
        vlmforge_version=__version__,
        env_name=env_name,
        env_config=redact_config(env_config),
        policy_name=policy_name,
        policy_config=redact_config(policy_config),
        model=policy.model_name(),
        seeds=list(seeds),
        tools=spec.tools,
        system_prompt=spec.system_prompt,
        achievements=list(spec.achievements),
        tags=list(tags),
    )


@dataclass
class OpenedRun:
    """A run ready to play: the stored run, the seeds still to play, and what resume found."""

    run: Run
    to_run: list[int]
    resumed: ResumePlan | None = None  # None: the run was created now


def open_run(store: TraceStore, run: Run, *, resume: bool) -> OpenedRun:
    """Create ``run``, or with ``resume`` continue the stored run of that name (same settings
    required; its finished seeds are kept, interrupted ones replayed from the start). Several
    processes may open one run at once: the runner claims each seed in the store before playing
    it (:meth:`~vlmforge.components.TraceStore.claim_episode`), so each seed is played once."""
    existing = store.get_run(run.name)
    if existing is None:
        try:
            store.create_run(run)
            return OpenedRun(run, list(run.seeds))
        except RunExistsError:  # another process created it a moment ago
            existing = store.get_run(run.name)
            if existing is None:
                raise
    if not resume:
        raise ConfigError(
            f"a run named '{run.name}' already exists in the trace store; finish it with "
            "--resume or choose another --run-name."
        )
    check_same_settings(existing, run)
    plan = plan_resume(store, existing, run.seeds)
    existing.seeds = existing.seeds + [s for s in run.seeds if s not in existing.seeds]
    store.update_run(existing)
    # seeds another process holds come last: its claim decides then (taken over if it died)
    return OpenedRun(existing, plan.to_run + plan.busy, plan)


async def play(
    opened: OpenedRun,
    *,
    env: Environment,
    spec: EnvSpec,
    policy: Policy,
    store: TraceStore,
    concurrency: int = 1,
    max_steps: int | None = None,
    **runner: Any,
) -> RunResult:
    """Play the run's remaining seeds (keyword arguments go to :class:`EvalRunner`)."""
    return await EvalRunner(
        env=env,
        spec=spec,
        policy=policy,
        store=store,
        run=opened.run,
        seeds=opened.to_run,
        concurrency=concurrency,
        max_steps=max_steps,
        **runner,
    ).run()
