"""The hooks a vlmforge plugin can implement.

Every component hook follows the register-callback style: the hook receives ``register`` and calls
it once per component it provides::

    @hookimpl
    def register_filters(register):
        register("min-steps", MinSteps, description="Drop episodes shorter than N steps")

``register(name, factory, *, description="", requires=(), install_hint=None)``:

- ``name``: what users type after the flag (``--filter min-steps``) or in TOML (``name = ...``).
- ``factory``: the component class (or any callable), or a ``"module:attribute"`` string that is
  imported only when the component is used, so heavy libraries stay out of CLI start-up. If the
  factory has a ``config_model`` attribute (a pydantic model with ``extra="forbid"``), the user's
  settings for the component are validated against it and passed as ``factory(config)``; otherwise
  the factory is called with no argument and any setting is an error.
- ``requires``: importable module names the component needs; if one is missing the component is
  listed as unavailable and using it fails with ``install_hint``.

The interfaces each kind of component must provide live in :mod:`vlmforge.components`; each
hook's ``register`` is typed with its kind's factory (``Register[EnvironmentFactory]``, ...), so
annotating a hookimpl's parameter the same way lets mypy check factories passed as objects.

Hooks are called through pluggy, one plugin at a time (each component is attributed to its
plugin, and a plugin that raises is reported while the others load). Hook wrappers
(``@hookimpl(wrapper=True)`` or ``hookwrapper=True``) are rejected: the plugin is reported as
failed with an error saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import pluggy

from vlmforge.registry import Register

if TYPE_CHECKING:  # kept off CLI start-up (vlmforge.components imports pydantic)
    from collections.abc import Sequence

    from vlmforge.components import (
        EnvironmentFactory,
        ExporterFactory,
        FilterFactory,
        PolicyFactory,
        TraceStoreFactory,
        TrainerFactory,
    )
    from vlmforge.metrics import SummaryMetric
    from vlmforge.trace import Episode, Run

hookspec = pluggy.HookspecMarker("vlmforge")
hookimpl = pluggy.HookimplMarker("vlmforge")


@hookspec
def register_environments(register: Register[EnvironmentFactory]) -> None:
    """Register environments (``--env NAME``).

    Called once per process, the first time any command needs the component registry.
    ``register(name, factory, ...)``: ``factory(config)`` returns a
    :class:`vlmforge.components.Environment`.
    """


@hookspec
def register_policies(register: Register[PolicyFactory]) -> None:
    """Register policies and model providers (``--policy NAME``).

    Called once per process, the first time any command needs the component registry.
    ``register(name, factory, ...)``: ``factory(config)`` returns a
    :class:`vlmforge.components.Policy`.
    """


@hookspec
def register_stores(register: Register[TraceStoreFactory]) -> None:
    """Register trace stores (``--store NAME``).

    Called once per process, the first time any command needs the component registry.
    ``register(name, factory, ...)``: ``factory(config)`` returns a
    :class:`vlmforge.components.TraceStore`.
    """


@hookspec
def register_filters(register: Register[FilterFactory]) -> None:
    """Register trace filters (``--filter NAME``, repeatable).

    Called once per process, the first time any command needs the component registry.
    ``register(name, factory, ...)``: ``factory(config)`` returns a
    :class:`vlmforge.components.Filter`. A plain function ``fn(episode) -> bool`` may be
    registered too; it keeps the episodes for which it returns true.
    """


@hookspec
def register_exporters(register: Register[ExporterFactory]) -> None:
    """Register dataset exporters (``--exporter NAME``).

    Called once per process, the first time any command needs the component registry.
    ``register(name, factory, ...)``: ``factory(config)`` returns a
    :class:`vlmforge.components.Exporter`.
    """


@hookspec
def register_trainers(register: Register[TrainerFactory]) -> None:
    """Register trainers (``--trainer NAME``).

    Called once per process, the first time any command needs the component registry.
    ``register(name, factory, ...)``: ``factory(config)`` returns a
    :class:`vlmforge.components.Trainer`.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``vlmforge`` command line.

    Called once when the CLI is built, before arguments are parsed. ``cli`` is the top-level
    :class:`click.Group`; decorate new commands with ``@cli.command()``. Import heavy libraries
    inside the command function, not at module level, so ``vlmforge --help`` stays fast.
    """


@hookspec
def summary_metrics(run: Run, episodes: Sequence[Episode]) -> list[SummaryMetric] | None:
    """Environment-specific numbers for the summary of ``run`` (a Crafter score, a win rate).

    Called each time a run is summarized (``vlmforge eval`` after each run, ``vlmforge traces
    stats``), once per plugin that implements it. ``run`` is the run's record (``env_name``,
    ``env_config``, ``achievements``, ...); ``episodes`` are its finished episodes (``done``
    and ``failed``). Return ``None`` for a run of an environment the plugin does not own;
    otherwise a list of :class:`vlmforge.metrics.SummaryMetric`: each becomes a row of the
    summary table and keys of ``--json-summary`` (a key another plugin also returned is an
    error naming both).
    """
