"""One Ray actor: builds the environment, the policy and the store once, then plays the seeds it
is handed, one at a time, with the same runner and store code as a local eval (so the traces are
the same). The store is the run's own (a shared PostgreSQL database, or an SQLite file on the
driver's host): the actor claims each seed there like any other eval process."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmforge.components import EnvSpec
from vlmforge.env_workers import EnvBuild
from vlmforge.trace import Episode, Run


@dataclass(frozen=True)
class WorkerSpec:
    """Everything an actor needs, sent once when it is created."""

    env: EnvBuild
    policy_name: str
    policy_settings: dict[str, Any]
    store_name: str
    store_settings: dict[str, Any]
    spec: EnvSpec
    max_steps: int | None = None
    max_decisions: int | None = None
    frames_dir: str | None = None
    plugins_dirs: tuple[str, ...] = ()
    env_vars: dict[str, str] = field(default_factory=dict)


@dataclass
class Played:
    """What one ``play`` call did: the episode (None when the seed was skipped: another process
    holds or finished it), and the fatal policy error that stopped it, if any."""

    seed: int
    episode: Episode | None
    fatal: str | None = None


class EpisodeWorker:
    """The actor's class (wrapped by ``ray.remote`` in the executor)."""

    def __init__(self, spec: WorkerSpec):
        os.environ.update(spec.env_vars)
        from vlmforge.components_build import build_component
        from vlmforge.env_workers import build_env
        from vlmforge.plugins import get_registry
        from vlmforge.redaction import remember_config_secrets

        registry = get_registry(tuple(spec.plugins_dirs))
        self.spec = spec
        self.env = build_env(registry, spec.env)
        remember_config_secrets(spec.policy_settings)
        self.policy = build_component(
            registry, "policy", spec.policy_name, spec.policy_settings, where="[policy]"
        )
        self.store = build_component(
            registry, "store", spec.store_name, spec.store_settings, where="[store]"
        )
        # one loop for the actor's life: a policy's HTTP client stays on the loop it was made on
        self.loop = asyncio.new_event_loop()

    def owner(self) -> str:
        """``host:pid``, as the store records this actor's running episodes."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def play(self, run: Run, seed: int) -> Played:
        """Play ``seed`` of ``run`` (claimed in the store first) to its end."""
        from vlmforge.runner import EvalRunner

        runner = EvalRunner(
            env=self.env,
            spec=self.spec.spec,
            policy=self.policy,
            store=self.store,
            run=run,
            seeds=[seed],
            concurrency=1,
            max_steps=self.spec.max_steps,
            max_decisions=self.spec.max_decisions,
            frames_dir=Path(self.spec.frames_dir) if self.spec.frames_dir else None,
        )
        result = self.loop.run_until_complete(runner.run())
        episode = result.episodes[0] if result.episodes else None
        return Played(seed, episode, result.stopped if result.fatal else None)

    def close(self) -> None:
        self.loop.run_until_complete(self.policy.aclose())
        self.loop.close()
        self.store.close()
        close_env = getattr(self.env, "close", None)
        if close_env is not None:
            close_env()
