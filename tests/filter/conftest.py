"""Databases shared by the filter tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.filter.builders import CraftedTraces, record_llm_eval, record_random_eval
from vlmforge.trace import EpisodeStatus

# Episode id -> number of steps, for the crafted database (see build_crafted).
CRAFTED_STEPS = {
    "good": 12,
    "failed": 6,
    "interrupted": 4,
    "loop-actions": 15,
    "loop-state": 10,
    "bad-decisions": 8,
    "no-image": 5,
    "short": 2,
    "dup-a": 3,
    "dup-b": 3,
}


def build_crafted(path: Path) -> None:
    t = CraftedTraces(path)
    actions = ["move_left", "move_right", "move_up", "move_down", "do", "noop"]
    t.episode(
        "good",
        [
            {
                "action": actions[i % 5],
                "reward": 1.0 if i in (5, 10) else 0.0,
                "achievements": ("collect_wood",)
                if i == 5
                else ("place_table",)
                if i == 10
                else (),
            }
            for i in range(12)
        ],
        seed=1,
    )
    t.episode(
        "failed",
        [{"action": actions[i % 5], "frame": 100 + i} for i in range(6)],
        seed=2,
        status=EpisodeStatus.failed,
    )
    t.episode(
        "interrupted",
        [{"action": actions[i % 5], "frame": 110 + i} for i in range(4)],
        seed=3,
        status=EpisodeStatus.interrupted,
    )
    # steps 3..12 repeat move_left 10 times; frames all differ
    t.episode(
        "loop-actions",
        [
            {"action": "move_left" if 3 <= i <= 12 else actions[i % 5], "frame": 200 + i}
            for i in range(15)
        ],
        seed=4,
    )
    # steps 2..9 all show frame 300 (8 steps in the same state); actions differ
    t.episode(
        "loop-state",
        [
            {
                "action": actions[i % 5],
                "frame": 300 if i >= 2 else 290 + i,
                "ground_truth": {"pos": [1, 1] if i >= 2 else [0, i], "step": i},
            }
            for i in range(10)
        ],
        seed=5,
    )
    t.episode(
        "bad-decisions",
        [
            {"frame": 400, "action": "do"},
            {"frame": 401, "invalid": "unknown_action"},
            {"frame": 402, "reply": "text"},  # text without a parsed call: missing tool call
            {"frame": 403, "reply": "empty"},
            {"frame": 404, "reply": "none", "error": "HTTP 500 from provider"},
            {"frame": 405, "reply": "text", "parsed": True, "action": "move_up"},
            {"frame": 406, "action": "move_down"},
            {"frame": 407, "action": "do", "reward": 1.0, "achievements": ("collect_sapling",)},
        ],
        seed=6,
    )
    t.episode("no-image", [{"image": False, "action": actions[i % 5]} for i in range(5)], seed=7)
    t.episode("short", [{"frame": 500 + i, "action": "do"} for i in range(2)], seed=8)
    same = [{"frame": 600 + i, "text": f"same obs {i}", "action": "noop"} for i in range(3)]
    t.episode("dup-a", same, seed=9)
    t.episode("dup-b", same, seed=10)
    t.close()


@pytest.fixture(scope="session")
def crafted_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crafted") / "crafted.db"
    build_crafted(path)
    return path


@pytest.fixture(scope="session")
def random_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real Crafter episodes from the random policy (4 seeds, 40 env steps each)."""
    path = tmp_path_factory.mktemp("random") / "random.db"
    record_random_eval(path, seeds="0-3", max_steps=40)
    return path


@pytest.fixture(scope="session")
def llm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The openai policy against a scripted loopback server (see builders.record_llm_eval)."""
    path = tmp_path_factory.mktemp("llm") / "llm.db"
    record_llm_eval(path)
    return path
