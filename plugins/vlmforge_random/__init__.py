"""Bundled plugin: the ``random`` policy (seeded, uniform over the environment's actions)."""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register):  # type: ignore[no-untyped-def]
    register(
        "random",
        "vlmforge_random.policy:RandomPolicy",
        description="Uniformly random actions, seeded per episode; no network.",
    )
