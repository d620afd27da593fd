"""Shared click options: plugin selection flags and ``--plugins-dir``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vlmforge.registry import FLAG_FOR_KIND


def plugins_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--plugins-dir",
        "plugins_dirs",
        multiple=True,
        type=click.Path(file_okay=False),
        help="Load in-house plugins (*.py files) from this directory (repeatable; "
        "also VLMFORGE_PLUGINS_DIR).",
    )(func)


def component_option(kind: str, *, multiple: bool = False, help: str = "") -> Callable[..., Any]:
    """``--env NAME`` / ``--policy NAME`` / ... ; names are checked against the registry."""
    flag = FLAG_FOR_KIND[kind]
    return click.option(
        flag,
        kind if kind != "environment" else "env",
        multiple=multiple,
        default=None,
        metavar="NAME",
        help=help or f"The {kind} component to use (see `vlmforge plugins`).",
    )


def load_registry(plugins_dirs: tuple[str, ...] = ()) -> Any:
    """The registry, with plugins-dir plugins added and load failures reported on stderr."""
    from vlmforge.cli.output import warn_plugin_failures
    from vlmforge.plugins import get_registry

    registry = get_registry(plugins_dirs)
    warn_plugin_failures()
    return registry


def set_options_option(example: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--set KEY=VALUE`` (repeatable): any config key, as it would be written in the file.

    The command gets the raw strings as ``settings``; :func:`parse_set_options` turns them into
    :class:`~vlmforge.config.SetOption` s, checked afterwards like the file's keys.
    """
    return click.option(
        "-o",
        "--set",
        "settings",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Set a config key as in the TOML file, e.g. -o {example} (repeatable; a "
        "TOML value, or text; wins over the file and the other flags; checked like the file).",
    )


def parse_set_options(items: tuple[str, ...]) -> list[Any]:
    """The ``-o/--set`` strings as :class:`~vlmforge.config.SetOption` s (bad ones: exit 2)."""
    from vlmforge.config import parse_set_option

    return [parse_set_option(item) for item in items]


class RegisteredNamesOption(click.Option):
    """An option whose help lists the registered components of ``kind`` when help is shown
    (bundled and installed plugins alike), in place of ``{names}`` in its help text."""

    def __init__(self, *args: Any, kind: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind = kind

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        from vlmforge.plugins import get_registry

        names = ", ".join(s.name for s in get_registry().all(self.kind) if s.available)
        return record[0], record[1].replace("{names}", names or "none installed")
