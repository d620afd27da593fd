"""A plugin that calls ``sys.exit()`` is a failed plugin, not the exit of every command
(issue 17, item 4). Real ``python -m vlmforge`` processes: the exit status is the point."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli_runner import VLMFORGE, _child_env

AT_IMPORT = "import sys\n\nsys.exit(3)\n"
IN_HOOK = """import sys

from vlmforge.hookspecs import hookimpl


@hookimpl
def register_policies(register):
    sys.exit(4)
"""
FINE = """from vlmforge.hookspecs import hookimpl


class Noop:
    config_model = None

    def __init__(self, config):
        pass


@hookimpl
def register_filters(register):
    register("fine-filter", Noop, description="still loads")
"""


def _plugins_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "quits_at_import.py").write_text(AT_IMPORT)
    (folder / "quits_in_hook.py").write_text(IN_HOOK)
    (folder / "fine.py").write_text(FINE)
    return folder


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [*VLMFORGE, *args], capture_output=True, text=True, env=_child_env(env), cwd=cwd,
        timeout=300,
    )  # fmt: skip


def test_sys_exit_in_a_plugin_is_reported_and_the_others_load(tmp_path: Path) -> None:
    folder = _plugins_dir(tmp_path)
    listed = _run("plugins", "--json", "--plugins-dir", str(folder))
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert "sys.exit(3)" in rows["quits_at_import"]["error"]
    assert "register_policies failed" in rows["quits_in_hook"]["error"]
    assert "sys.exit(4)" in rows["quits_in_hook"]["error"]
    assert rows["fine"]["error"] is None
    assert [c["name"] for c in rows["fine"]["components"]] == ["fine-filter"]
    assert any(c["name"] == "random" for r in rows.values() for c in r["components"])


def test_every_command_still_runs_beside_a_plugin_that_exits(tmp_path: Path) -> None:
    folder = _plugins_dir(tmp_path)
    result = _run(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0", "--max-steps", "3",
        "--trace-db", str(tmp_path / "t.db"), env={"VLMFORGE_PLUGINS_DIR": str(folder)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "seed 0: 3 steps" in result.stdout
    err = " ".join(result.stderr.split())
    assert "plugin 'quits_at_import' is not loaded: SystemExit: it called sys.exit(3)" in err
    assert "plugin 'quits_in_hook' is not loaded: register_policies failed" in err
    assert "Traceback" not in result.stderr
    version = _run("--version", env={"VLMFORGE_PLUGINS_DIR": str(folder)})
    assert version.returncode == 0 and "vlmforge" in version.stdout
