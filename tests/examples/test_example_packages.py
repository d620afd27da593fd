"""The worked examples of docs/plugins.md, installed with pip as a user would: a third-party
environment (``examples/vlmforge-example-gridworld``) played by ``vlmforge eval`` with its own
summary row, and a third-party exporter (``examples/vlmforge-example-exporter``) fed by
``vlmforge filter`` from that run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli_subprocess
from vlmforge.conformance import factory_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PACKAGES = ("vlmforge-example-gridworld", "vlmforge-example-exporter")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("site")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), *(str(EXAMPLES / p) for p in PACKAGES)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    return {"PYTHONPATH": str(target)}


@pytest.fixture(scope="module")
def played(site: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("grid")
    db, summary = tmp / "g.db", tmp / "s.json"
    proc = run_cli_subprocess(
        "eval", "--env", "gridworld", "--policy", "random", "-o", "policy.actions_per_call=2",
        "--seeds", "0-5", "--trace-db", str(db), "--json-summary", str(summary), env=site,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "goal reached" in proc.stdout and "Crafter score" not in proc.stdout
    assert "BALROG" not in proc.stdout
    return db, json.loads(summary.read_text())["runs"][0]


def test_the_environment_plays_with_its_own_summary_row(played) -> None:
    _, run = played
    assert run["env"] == "gridworld" and run["episodes"] == 6
    assert "crafter_score_pct" not in run and "progression_pct" not in run
    assert [row["label"] for row in run["env_metrics"]] == ["goal reached"]
    # the plugin's number is computed from the recorded episodes: recount it from the run
    wins = round(run["goal_rate_pct"] * 6 / 100)
    assert 0 <= wins <= 6 and run["success_rates_pct"]["reach_goal"] == run["goal_rate_pct"]
    assert run["invalid_decisions"] == 0  # the random policy used the tools' own argument names


def test_the_exporter_writes_rows_with_images_that_exist(played, site, tmp_path) -> None:
    db, _ = played
    out = tmp_path / "export"
    proc = run_cli_subprocess(
        "filter", "--trace-db", str(db), "--exporter", "example-pc", "--output-dir", str(out),
        "--val-fraction", "0", "--no-progress", "--json", env=site,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert len(rows) == stats["train"]["rows"] > 0
    assert all(r["completion"].startswith(("walk(", "step(")) for r in rows)
    images = {p for r in rows for p in r["images"]}
    assert images and all((out / p).is_file() for p in images)  # relative to the output folder
    assert not any(p.name.startswith(".vlmforge-filter-") for p in out.iterdir())


def test_filter_help_lists_the_installed_exporter(site) -> None:
    proc = run_cli_subprocess("filter", "--help", env=site)
    assert proc.returncode == 0 and "example-pc" in proc.stdout


def test_the_example_components_satisfy_their_protocols(monkeypatch) -> None:
    for package in PACKAGES:
        monkeypatch.syspath_prepend(str(EXAMPLES / package / "src"))
    from vlmforge_example_exporter.exporter import PromptCompletionExporter
    from vlmforge_example_gridworld.env import GridWorld

    assert factory_problems(GridWorld, "environment") == []
    assert factory_problems(PromptCompletionExporter, "exporter") == []
