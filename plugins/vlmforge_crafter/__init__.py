"""Bundled plugin: the ``crafter`` environment (Crafter, via the ``crafter`` package) and the
``scripted`` policy that plays it (:mod:`vlmforge_crafter.teacher`).

Kept light: both classes are registered as ``"module:attr"`` strings so ``crafter``, numpy and
numba are imported only when the environment is used.
"""

from __future__ import annotations

from typing import Any

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
    register(
        "crafter-probes",
        "vlmforge_crafter.probes.env:ProbeEnvironment",
        description="Vision probes: questions with exact answers about recorded crafter frames.",
    )


@hookimpl
def register_policies(register: Register) -> None:
    register(
        "scripted",
        "vlmforge_crafter.teacher.policy:ScriptedPolicy",
        description="Rule-based Crafter player (tech tree, survival, shelters); no network.",
    )
    register(
        "probe-oracle",
        "vlmforge_crafter.probes.answerers:OracleAnswerer",
        description="Answers crafter-probes exactly from the ground truth (perception QA rows).",
    )
    register(
        "probe-random",
        "vlmforge_crafter.probes.answerers:RandomAnswerer",
        description="Answers crafter-probes uniformly among each question's choices (chance).",
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from vlmforge_crafter.probes.command import command as probe

    cli.add_command(probe)
