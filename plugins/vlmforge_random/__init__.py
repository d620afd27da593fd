"""Bundled plugin: the ``random`` policy (seeded, uniform over the environment's actions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.components import PolicyFactory


@hookimpl
def register_policies(register: Register[PolicyFactory]) -> None:
    register(
        "random",
        "vlmforge_random.policy:RandomPolicy",
        description="Uniformly random actions, seeded per episode; no network.",
    )
