"""The CLI skeleton: version, help on every command, one-screen errors with non-zero exits."""

import click
import pytest

from vlmforge import __version__
from vlmforge.cli import _add_commands, cli


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*prefix, name))


def test_every_command_has_help():
    from click.testing import CliRunner

    _add_commands()
    runner = CliRunner()
    paths = list(_all_commands(cli))
    assert ("plugins",) in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        command = cli
        for part in path:
            command = command.commands[part]  # type: ignore[attr-defined]
        assert command.help or command.short_help, f"{' '.join(path)} has no help text"


@pytest.mark.parametrize("args", [["--help"], ["plugins", "--help"]])
def test_help_runs_in_a_subprocess(cli, args):
    result = cli(*args)
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_unknown_command_is_an_error(cli):
    result = cli("no-such-command")
    assert result.returncode != 0
    assert "No such command" in result.stderr
