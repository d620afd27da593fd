"""The ``vlmforge`` command line.

Core commands live in this package, one module each; plugins add commands through the
``register_commands`` hook. Heavy libraries are imported inside commands, never at module level.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from vlmforge import __version__
from vlmforge.errors import VlmforgeError

SHORT_HELP_LIMIT = 200  # a command's first sentence is wrapped in --help, not cut with "..."


class VlmforgeGroup(click.Group):
    """Turns :class:`VlmforgeError` into a one-screen message and a non-zero exit; lists every
    command in ``--help`` (core and plugin commands alike) with its first sentence, uncut."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, cmd.get_short_help_str(limit=SHORT_HELP_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VlmforgeError as exc:
            from rich.markup import escape

            from vlmforge.cli.output import error_console

            error_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(exc.exit_code)


@click.group(cls=VlmforgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vlmforge")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Load a dotenv file (KEY=VALUE lines: API keys) into the environment for this "
    "command. Values are never printed.",
)
def cli(env_file: str | None) -> None:
    """vlmforge: turn agent rollouts into VLM training data and trained models.

    Every command, core and plugin alike, is listed below; `vlmforge COMMAND --help` for more.
    """
    if env_file:
        from vlmforge.envfile import load_env_file

        load_env_file(env_file)


def _add_commands() -> None:
    from vlmforge.cli import plugins_cmd

    cli.add_command(plugins_cmd.plugins)
    for name in _CORE_COMMAND_MODULES:
        module = __import__(f"vlmforge.cli.{name}", fromlist=["command"])
        cli.add_command(module.command)
    from vlmforge.plugins import get_host

    get_host().add_commands(cli)


# Core command modules (each defines ``command``); issues add theirs here.
_CORE_COMMAND_MODULES: list[str] = ["eval", "traces", "filter", "train"]


def main() -> None:
    _add_commands()
    cli(prog_name="vlmforge")
