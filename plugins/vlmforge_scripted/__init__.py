"""Bundled plugin: the ``scripted`` policy, a rule-based Crafter player that needs no model.

Kept light: the policy class is registered as a ``"module:attr"`` string.
"""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register):  # type: ignore[no-untyped-def]
    register(
        "scripted",
        "vlmforge_scripted.policy:ScriptedPolicy",
        description="Rule-based Crafter player (tech tree, survival, shelters); no network.",
    )
