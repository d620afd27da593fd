"""Environment-specific summary rows come from the environment's plugin (``summary_metrics``),
and ``traces stats`` calls a comparison "same seeds" only when it is one."""

from __future__ import annotations

import json

import crafter.constants
import pytest

from tests.conftest import run_cli
from vlmforge.errors import VlmforgeError
from vlmforge.metrics import SummaryMetric
from vlmforge.summary import with_env_metrics
from vlmforge_crafter.run_metrics import CRAFTER_ACHIEVEMENTS


def test_the_plugin_knows_crafters_achievements() -> None:
    assert set(crafter.constants.achievements) == CRAFTER_ACHIEVEMENTS


def _eval(db, seeds: str, name: str) -> None:
    proc = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", seeds, "--max-steps", "5",
        "--trace-db", str(db), "--run-name", name,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_stats_titles_only_same_seed_comparisons_that_way(tmp_path) -> None:
    db = tmp_path / "t.db"
    _eval(db, "0-1", "a")
    _eval(db, "0-1", "b")
    same = run_cli("traces", "stats", "--trace-db", str(db))
    assert same.returncode == 0 and "comparison (same seeds)" in same.stdout
    _eval(db, "5", "c")
    mixed = run_cli("traces", "stats", "--trace-db", str(db))
    assert mixed.returncode == 0, mixed.stderr
    assert "same seeds" not in mixed.stdout
    assert "comparison (different seeds or environments)" in mixed.stdout
    assert "crafter / 0-1" in mixed.stdout and "crafter / 5" in mixed.stdout
    runs = json.loads(run_cli("traces", "stats", "--trace-db", str(db), "--json").stdout)["runs"]
    for run in runs:  # crafter's rows, from the crafter plugin
        assert [r["label"] for r in run["env_metrics"]] == ["BALROG progression", "Crafter score"]
        assert {"crafter_score_pct", "progression_pct", "progression_sem_pct"} <= run.keys()


def test_a_key_used_twice_is_an_error_naming_both_plugins() -> None:
    metric = SummaryMetric("episodes", "episodes again", 1, "1")
    with pytest.raises(VlmforgeError, match="plugin 'mine' and also by 'vlmforge'"):
        with_env_metrics({"episodes": 3}, [("mine", metric)])
    one = SummaryMetric("x_pct", "x", 1.0, "1%")
    with pytest.raises(VlmforgeError, match="plugin 'b' and also by 'a'"):
        with_env_metrics({}, [("a", one), ("b", one)])
