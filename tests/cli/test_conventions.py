"""CLI conventions: a generated command list, registered names in help, exit codes."""

from __future__ import annotations

import json
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


def test_counts_are_pluralised_and_ids_are_never_cut_at_80_columns(tmp_path) -> None:
    from vlmforge.cli.output import plural
    from vlmforge.wording import were

    assert [were(n) for n in (0, 1, 2)] == ["were", "was", "were"]
    assert [plural(n, "achievement") for n in (0, 1, 2)] == [
        "0 achievements",
        "1 achievement",
        "2 achievements",
    ]
    db = tmp_path / "t.db"
    long_name = "a-run-name-someone-will-copy-into-resume"
    proc = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0-1", "--max-steps", "1",
        "--trace-db", str(db), "--run-name", long_name, env={"COLUMNS": "80"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "seed 0: 1 step, 0 achievements, reward" in proc.stdout
    assert "1 tool call," in proc.stdout
    listed = run_cli("traces", "list", "--trace-db", str(db), env={"COLUMNS": "80"})
    assert listed.returncode == 0, listed.stderr
    data = run_cli("traces", "list", "--trace-db", str(db), "--json")
    parsed = json.loads(data.stdout)
    ids = [parsed["runs"][0]["id"], *(e["id"] for e in parsed["episodes"])]
    assert long_name in listed.stdout
    assert all(i in listed.stdout for i in ids)  # each whole on one line, copyable
    other = long_name.replace("a-run", "another-run")
    again = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0", "--max-steps", "1",
        "--trace-db", str(db), "--run-name", other,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    stats = run_cli("traces", "stats", "--trace-db", str(db), env={"COLUMNS": "80"})
    assert f"[1] {long_name}" in stats.stdout and f"[2] {other}" in stats.stdout
    assert "…" not in stats.stdout.split("metric")[0]  # the legend is whole


def test_eval_json_prints_only_the_summary_document_on_stdout(tmp_path) -> None:
    proc = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0-1", "--max-steps", "2",
        "--trace-db", str(tmp_path / "t.db"), "--json", "--json-summary", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)  # nothing else on stdout
    assert printed == json.loads((tmp_path / "s.json").read_text())
    assert printed["runs"][0]["episodes"] == 2
    assert "seed 0: 2 steps" in proc.stderr  # episode lines moved to stderr


def test_config_errors_exit_2_everywhere(tmp_path) -> None:
    """A path the command was given that is missing or the wrong kind is a config error."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    cases = [
        ("filter", "--trace-db", str(tmp_path / "nope.db"), "--output-dir", str(tmp_path / "o")),
        ("eval", "--env", "crafter", "--policy", "random", "--trace-db", str(folder)),
        ("traces", "list", "--trace-db", str(tmp_path / "nope.db")),
        ("--env-file", str(tmp_path / "nope.env"), "plugins"),
        ("eval", "--env", "crafter", "--policy", "random", "--seeds", "9-3"),
        ("eval", "--env", "crafter", "--policy", "randum"),
        ("eval", "--no-such-flag"),
    ]
    for args in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
