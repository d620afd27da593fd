"""Bundled plugin: the ``crafter`` environment (Crafter, via the ``crafter`` package) and the
``scripted`` policy that plays it (:mod:`vlmforge_crafter.teacher`).

Kept light: both classes are registered as ``"module:attr"`` strings so ``crafter``, numpy and
numba are imported only when the environment is used.
"""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register


@hookimpl
def register_environments(register: Register) -> None:
    register(
        "crafter",
        "vlmforge_crafter.env:CrafterEnvironment",
        description="Crafter survival/crafting game: text + PNG frame, tool-call actions.",
        requires=("crafter",),
        install_hint="pip install crafter numba",
    )


@hookimpl
def register_policies(register: Register) -> None:
    register(
        "scripted",
        "vlmforge_crafter.teacher.policy:ScriptedPolicy",
        description="Rule-based Crafter player (tech tree, survival, shelters); no network.",
    )
