"""The CLI skeleton: version, help on every command, one-screen errors with non-zero exits."""

import os

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
def test_help_runs_in_a_subprocess(cli_subprocess, args):
    result = cli_subprocess(*args)
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_unknown_command_is_an_error(cli):
    result = cli("no-such-command")
    assert result.returncode != 0
    assert "No such command" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["plugins"], ["eval", "--env", "crafter", "--policy", "randon", "--seeds", "0"], ["nope"]],
    ids=["table", "vlmforge-error", "click-usage-error"],
)
def test_in_process_runner_prints_what_a_subprocess_prints(cli, cli_subprocess, args):
    """The fast in-process ``cli`` fixture stands in for a real process, byte for byte."""
    fast, real = cli(*args), cli_subprocess(*args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert real.stdout or real.stderr


def test_in_process_calls_do_not_leak_into_each_other(cli, tmp_path, monkeypatch):
    """--env-file values, plugins-dir plugins and the cwd end with the call that set them."""
    from tests.conftest import FIXTURES

    monkeypatch.setenv("VLMFORGE_PLUGINS", "random")  # what the test process has is not passed
    env_file = tmp_path / "keys.env"
    env_file.write_text("VF_LEAK_CHECK=1\n")
    with_dir = cli(
        "--env-file", str(env_file), "plugins", "--plugins-dir", str(FIXTURES / "plugins_dir"),
        cwd=tmp_path,
    )  # fmt: skip
    assert with_dir.returncode == 0 and "inhouse" in with_dir.stdout
    assert "VF_LEAK_CHECK" not in os.environ and os.getcwd() != str(tmp_path)
    plain = cli("plugins")
    assert plain.returncode == 0 and "inhouse" not in plain.stdout and "crafter" in plain.stdout
