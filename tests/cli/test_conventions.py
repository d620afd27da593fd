"""CLI conventions: a generated command list, registered names in help, exit codes."""

from __future__ import annotations

import re

from tests.conftest import run_cli

COMMAND_PLUGIN = '''
import click
from vlmforge.hookspecs import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("hello-there")
    def hello():
        """Say hello from an in-house plugin with a rather long first sentence that goes on."""
        click.echo("hello")
'''


def _commands_section(text: str) -> list[str]:
    section = text.split("Commands:\n", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  (\S+)  ", section, flags=re.M)]


def test_help_lists_every_command_including_plugin_commands(tmp_path) -> None:
    (tmp_path / "hello_plugin.py").write_text(COMMAND_PLUGIN)
    proc = run_cli("--help", env={"VLMFORGE_PLUGINS_DIR": str(tmp_path), "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    listed = _commands_section(proc.stdout)
    expected = {"eval", "filter", "train", "traces", "models", "plugins", "serve", "pipeline"}
    assert expected | {"hello-there"} <= set(listed)
    assert listed == sorted(listed)
    commands = proc.stdout.split("Commands:\n", 1)[1]
    assert "..." not in commands and "…" not in commands
    assert "goes on." in proc.stdout  # the first sentence is wrapped, not cut
