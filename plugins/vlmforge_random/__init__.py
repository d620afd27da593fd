"""Bundled plugin: the ``random`` policy (seeded, uniform over the environment's actions)."""

from __future__ import annotations

from vlmforge.components import PolicyFactory
from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register


@hookimpl
def register_policies(register: Register[PolicyFactory]) -> None:
    register(
        "random",
        "vlmforge_random.policy:RandomPolicy",
        description="Uniformly random actions, seeded per episode; no network.",
    )
