"""``--resume``: finish the missing seeds of a run without duplicates.

For each requested seed, the run's existing episode decides:

- ``done`` or ``failed``: kept, the seed is skipped (a policy failure is a recorded outcome);
- ``running`` and owned by a live process (another eval on the same run): ``busy``, tried
  after the others (the claim then skips it, or takes it over if that process has died);
  ``running`` and owned by a process that is gone (SIGKILL) is first marked ``interrupted`` by
  the store's ``recover_interrupted``;
- ``interrupted``: the seed is run again from the start; its partial steps are deleted when the
  runner claims the seed, so every seed ends with exactly one episode and the episode's steps
  are one uninterrupted trajectory (a half-played episode cannot be continued: the policy's
  state is gone);
- no episode: the seed runs.

The plan is what this process found when it opened the run; the claim
(:meth:`~vlmforge.components.TraceStore.claim_episode`, one transaction per seed) decides: a seed
that another process claimed or finished since then is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vlmforge.components import TraceStore
from vlmforge.errors import ConfigError
from vlmforge.trace import EpisodeStatus, Run


@dataclass
class ResumePlan:
    to_run: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # done or failed already
    restarted: list[int] = field(default_factory=list)  # interrupted: partial steps deleted
    busy: list[int] = field(default_factory=list)  # being run by another live process


def check_same_settings(existing: Run, new: Run) -> None:
    """Refuse to resume a run with a different env, policy or settings (results would mix)."""
    problems = []
    for label, old, cur in (
        ("environment", existing.env_name, new.env_name),
        ("policy", existing.policy_name, new.policy_name),
        ("model", existing.model, new.model),
    ):
        if old != cur:
            problems.append(f"{label} was {old!r}, now {cur!r}")
    for label, old_cfg, new_cfg in (
        ("env", existing.env_config, new.env_config),
        ("policy", existing.policy_config, new.policy_config),
    ):
        keys = sorted(_differing(old_cfg, new_cfg))
        if keys:
            problems.append(f"{label} settings differ: {', '.join(keys)}")
    if problems:
        raise ConfigError(
            f"cannot resume run '{existing.name}': {'; '.join(problems)}. Resume with the same "
            "config, or start a new run with another --run-name."
        )


def _differing(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    return {
        k
        for k in set(a) | set(b)
        if json.dumps(a.get(k), sort_keys=True) != json.dumps(b.get(k), sort_keys=True)
    }


def plan_resume(store: TraceStore, run: Run, seeds: list[int]) -> ResumePlan:
    """Decide what to do with each seed (stale interrupted attempts of a finished seed are
    deleted; those of a seed to replay are deleted when it is claimed)."""
    store.recover_interrupted()
    existing: dict[int, list[Any]] = {}
    for episode in store.episodes([run.id]):
        existing.setdefault(episode.seed, []).append(episode)
    plan = ResumePlan()
    for seed in seeds:
        episodes = existing.get(seed, [])
        statuses = {e.status for e in episodes}
        if statuses & {EpisodeStatus.done, EpisodeStatus.failed}:
            plan.kept.append(seed)
            for e in episodes:  # a finished one exists: drop stale partial attempts
                if e.status == EpisodeStatus.interrupted:
                    store.delete_episode(e.id)
            continue
        if EpisodeStatus.running in statuses:
            plan.busy.append(seed)
            continue
        if episodes:
            plan.restarted.append(seed)
        plan.to_run.append(seed)
    return plan
