"""Bundled plugin: the ``crafter`` environment (Crafter, via the ``crafter`` package).

Kept light: the environment class is registered as a ``"module:attr"`` string so ``crafter``,
numpy and numba are imported only when the environment is used.
"""

from __future__ import annotations

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_environments(register):  # type: ignore[no-untyped-def]
    register(
        "crafter",
        "vlmforge_crafter.env:CrafterEnvironment",
        description="Crafter survival/crafting game: text + PNG frame, tool-call actions.",
        requires=("crafter",),
        install_hint="pip install crafter numba",
    )
