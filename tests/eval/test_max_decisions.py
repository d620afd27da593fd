"""``max_decisions`` / ``--max-decisions``: a per-episode cap on policy decisions (LM turns)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.eval.helpers import open_store
from vlmforge.eval_config import load_eval_config


def _episodes(db: Path) -> list[tuple[object, list[object]]]:
    store = open_store(db)
    out = [(e, list(store.steps(e.id))) for e in store.episodes()]
    store.close()
    return out


def test_the_flag_caps_decisions_per_episode(tmp_path) -> None:
    db = tmp_path / "t.db"
    proc = run_cli(
        "eval", "--env", "crafter", "--policy", "random", "--seeds", "0-1",
        "--max-steps", "500", "--max-decisions", "4", "--trace-db", str(db),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    episodes = _episodes(db)
    assert len(episodes) == 2
    for episode, steps in episodes:
        assert len(steps) == 4  # four decisions, each one recorded step
        assert episode.status.value == "done" and episode.termination == "max_decisions"
        assert steps[-1].done and steps[-1].truncated and not any(s.done for s in steps[:-1])


def test_the_config_key_is_honoured_and_the_flag_wins(tmp_path) -> None:
    config = tmp_path / "eval.toml"
    config.write_text(
        'seeds = "3"\nmax_decisions = 2\n[env]\nname = "crafter"\n[policy]\nname = "random"\n'
    )
    assert load_eval_config(str(config), {}).config.max_decisions == 2
    assert load_eval_config(str(config), {"max_decisions": 5}).config.max_decisions == 5
    db = tmp_path / "c.db"
    proc = run_cli("eval", "--config", str(config), "--trace-db", str(db))
    assert proc.returncode == 0, proc.stderr
    ((episode, steps),) = _episodes(db)
    assert len(steps) == 2 and episode.termination == "max_decisions"


def test_zero_is_refused(tmp_path) -> None:
    proc = run_cli("eval", "--env", "crafter", "--policy", "random", "--max-decisions", "0")
    assert proc.returncode == 2 and "max_decisions" in proc.stderr
