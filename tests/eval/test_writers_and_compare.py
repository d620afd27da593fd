"""Two eval processes on one database; several policies compared on the same seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.eval.helpers import open_store


@pytest.mark.slow
def test_two_writers_on_one_database_both_succeed(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vlmforge",
                "eval",
                "--env",
                "crafter",
                "--policy",
                "random",
                "--seeds",
                "0-1",
                "--max-steps",
                "50",
                "--concurrency",
                "2",
                "--run-name",
                name,
                "--trace-db",
                str(db),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("writer-a", "writer-b")
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    store = open_store(db)
    for name in ("writer-a", "writer-b"):
        run = store.get_run(name)
        episodes = list(store.episodes([run.id]))
        assert sorted(e.seed for e in episodes) == [0, 1]
        for e in episodes:
            assert e.status.value == "done"
            assert len(list(store.steps(e.id))) == e.steps
    # same seeds, same policy seed: the two runs recorded identical trajectories
    a, b = (list(store.episodes([store.get_run(n).id])) for n in ("writer-a", "writer-b"))
    assert [e.achievements for e in a] == [e.achievements for e in b]
    assert [e.total_reward for e in a] == [e.total_reward for e in b]
    store.close()


def test_several_policies_run_on_the_same_seeds_and_compare(tmp_path: Path) -> None:
    config = tmp_path / "cmp.toml"
    config.write_text(
        'run_name = "cmp"\nseeds = "0-1"\nconcurrency = 2\nmax_steps = 24\n'
        '[env]\nname = "crafter"\n'
        '[[policies]]\nname = "random"\nlabel = "one"\n'
        '[[policies]]\nname = "random"\nlabel = "four"\nactions_per_call = 4\n'
    )
    db, summary = tmp_path / "c.db", tmp_path / "s.json"
    proc = run_cli(
        "eval", "--config", str(config), "--trace-db", str(db), "--json-summary", str(summary)
    )
    assert proc.returncode == 0, proc.stderr
    assert "comparison (same seeds)" in proc.stdout
    assert "[one] seed 0:" in proc.stdout and "[four] seed 1:" in proc.stdout
    runs = json.loads(summary.read_text())["runs"]
    assert [r["label"] for r in runs] == ["one", "four"]
    assert [r["run_name"] for r in runs] == ["cmp-one", "cmp-four"]
    assert runs[0]["seeds"] == runs[1]["seeds"] == "0-1"
    # the second policy really used its own settings: 4 actions per decision
    assert runs[0]["decisions"] == runs[0]["steps"]
    assert runs[1]["decisions"] < runs[1]["steps"]
    store = open_store(db)
    four = store.get_run("cmp-four")
    assert four.policy_config["actions_per_call"] == 4
    store.close()
