"""Rich consoles for the CLI: results on stdout, diagnostics on stderr."""

from __future__ import annotations

from functools import cache

from rich.console import Console


@cache
def console() -> Console:
    return Console(highlight=False)


@cache
def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def warn_plugin_failures() -> None:
    """Print one line per plugin that failed to import or register (stderr)."""
    from rich.markup import escape

    from vlmforge.plugins import get_host

    for info in get_host().failures():
        error_console().print(
            f"[yellow]warning:[/] plugin '{info.name}' is not loaded: {escape(str(info.error))}",
            markup=True,
        )
