"""Bundled plugin: the ``crafter`` environment (Crafter, via the ``crafter`` package) and the
``scripted`` policy that plays it (:mod:`vlmforge_crafter.teacher`), and the Crafter score and
BALROG progression rows of its runs' summaries (:mod:`vlmforge_crafter.run_metrics`).

Kept light: both classes are registered as ``"module:attr"`` strings so ``crafter``, numpy and
numba are imported only when the environment is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vlmforge.hookspecs import hookimpl
from vlmforge.registry import Register

if TYPE_CHECKING:
    from vlmforge.metrics import SummaryMetric
    from vlmforge.trace import Episode, Run


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


@hookimpl
def summary_metrics(run: Run, episodes: Sequence[Episode]) -> list[SummaryMetric] | None:
    # (the module is not called summary_metrics: importing it would replace this function
    # as the package's attribute, and pluggy would no longer find the hook)
    from vlmforge_crafter.run_metrics import crafter_summary_metrics

    return crafter_summary_metrics(run, episodes)
