"""Each bundled filter, on a real SQLite trace store, removes what it should and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.filter.conftest import CRAFTED_STEPS
from tests.filter.run import kept_steps
from vlmforge.errors import ConfigError

ALL = {eid: list(range(n)) for eid, n in CRAFTED_STEPS.items()}


def without(*episodes: str, **trimmed: list[int]) -> dict[str, list[int]]:
    out = {k: v for k, v in ALL.items() if k not in episodes}
    out.update({k.replace("_", "-"): v for k, v in trimmed.items()})
    return out


def test_no_filters_keep_everything(crafted_db):
    assert kept_steps(crafted_db, []) == ALL


@pytest.mark.parametrize(
    ("settings", "dropped"),
    [
        ({}, ("failed", "interrupted")),
        ({"keep": ["done", "failed"]}, ("interrupted",)),
        (
            {"keep": ["failed", "interrupted"]},
            tuple(e for e in ALL if e not in ("failed", "interrupted")),
        ),
    ],
)
def test_status(crafted_db, settings, dropped):
    assert kept_steps(crafted_db, [{"name": "status", **settings}]) == without(*dropped)


def test_select(crafted_db):
    assert kept_steps(crafted_db, [{"name": "select", "runs": ["crafted"]}]) == ALL
    assert kept_steps(crafted_db, [{"name": "select", "runs": ["run-crafted"]}]) == ALL
    assert kept_steps(crafted_db, [{"name": "select", "runs": ["other"]}]) == {}
    assert kept_steps(crafted_db, [{"name": "select", "models": ["tiny-vlm"]}]) == ALL
    assert kept_steps(crafted_db, [{"name": "select", "models": ["gpt-x"]}]) == {}
    assert kept_steps(crafted_db, [{"name": "select", "envs": ["crafter"]}]) == ALL
    assert kept_steps(crafted_db, [{"name": "select", "policies": ["random"]}]) == {}
    assert kept_steps(crafted_db, [{"name": "select", "tags": ["x"]}]) == {}
    assert set(kept_steps(crafted_db, [{"name": "select", "seeds": [1, 5]}])) == {
        "good",
        "loop-state",
    }
    now = dt.datetime.now(dt.UTC)
    past = now - dt.timedelta(days=1)
    assert kept_steps(crafted_db, [{"name": "select", "since": past.isoformat()}]) == ALL
    assert kept_steps(crafted_db, [{"name": "select", "until": past.isoformat()}]) == {}
    naive_future = (now + dt.timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert kept_steps(crafted_db, [{"name": "select", "until": naive_future}]) == ALL


def test_select_needs_a_criterion(crafted_db):
    with pytest.raises(ConfigError, match="select needs at least one"):
        kept_steps(crafted_db, [{"name": "select"}])
    with pytest.raises(ConfigError, match="since must be earlier"):
        kept_steps(crafted_db, [{"name": "select", "since": "2026-01-02", "until": "2026-01-01"}])


def test_min_and_max_steps(crafted_db):
    assert kept_steps(crafted_db, [{"name": "min-steps", "min_steps": 5}]) == without(
        "interrupted", "short", "dup-a", "dup-b"
    )
    assert kept_steps(crafted_db, [{"name": "max-steps", "max_steps": 8}]) == without(
        "good", "loop-actions", "loop-state"
    )


def test_min_steps_counts_steps_left_after_trimming(crafted_db):
    # decision-quality leaves 4 steps of bad-decisions; min-steps 5 then drops it
    kept = kept_steps(
        crafted_db, [{"name": "decision-quality"}, {"name": "min-steps", "min_steps": 5}]
    )
    assert "bad-decisions" not in kept
    assert "failed" in kept


def test_min_achievements_and_reward(crafted_db):
    assert set(kept_steps(crafted_db, [{"name": "min-achievements"}])) == {
        "good",
        "bad-decisions",
    }
    assert set(kept_steps(crafted_db, [{"name": "min-achievements", "min_unique": 2}])) == {"good"}
    assert set(kept_steps(crafted_db, [{"name": "min-reward", "min_total": 2.0}])) == {"good"}
    assert set(kept_steps(crafted_db, [{"name": "min-reward"}])) == {"good", "bad-decisions"}


def test_loops_repeated_actions(crafted_db):
    # loop-actions repeats move_left at steps 3..12 (10 times)
    assert kept_steps(crafted_db, [{"name": "loops"}]) == without("loop-actions")
    assert kept_steps(crafted_db, [{"name": "loops", "max_repeated_actions": 10}]) == ALL
    trimmed = kept_steps(crafted_db, [{"name": "loops", "mode": "trim"}])
    assert trimmed == without(loop_actions=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14])
    # at 3, bad-decisions' four fallback noops (steps 1-4) lose their 4th
    trimmed = kept_steps(crafted_db, [{"name": "loops", "mode": "trim", "max_repeated_actions": 3}])
    assert trimmed == without(
        loop_actions=[0, 1, 2, 3, 4, 5, 13, 14], bad_decisions=[0, 1, 2, 3, 5, 6, 7]
    )


def test_loops_unchanged_frames(crafted_db):
    # loop-state shows the same frame at steps 2..9 (8 steps)
    cfg = {"name": "loops", "max_repeated_actions": None, "max_unchanged_steps": 5}
    assert kept_steps(crafted_db, [cfg]) == without("loop-state")
    assert kept_steps(crafted_db, [{**cfg, "max_unchanged_steps": 8}]) == ALL
    assert kept_steps(crafted_db, [{**cfg, "mode": "trim"}]) == without(
        loop_state=[0, 1, 2, 3, 4, 5, 6]
    )


def test_loops_unchanged_ground_truth(crafted_db):
    base = [{"name": "select", "seeds": [5]}]
    cfg = {
        "name": "loops",
        "max_repeated_actions": None,
        "max_unchanged_steps": 5,
        "state": "ground_truth",
    }
    # the step counter makes every state distinct unless it is ignored
    assert kept_steps(crafted_db, [*base, cfg]) == {"loop-state": list(range(10))}
    assert kept_steps(crafted_db, [*base, {**cfg, "ignore_keys": ["step"]}]) == {}


def test_loops_min_unique_states(crafted_db):
    cfg = {"name": "loops", "max_repeated_actions": None, "min_unique_states": 3}
    assert kept_steps(crafted_db, [cfg]) == without("short")


def test_loops_needs_a_criterion(crafted_db):
    with pytest.raises(ConfigError, match="loops needs"):
        kept_steps(crafted_db, [{"name": "loops", "max_repeated_actions": None}])


@pytest.mark.parametrize(
    ("settings", "kept"),
    [
        ({}, [0, 5, 6, 7]),
        ({"drop_parsed_from_text": True}, [0, 6, 7]),
        (
            {
                "drop_missing_tool_calls": False,
                "drop_empty_replies": False,
                "drop_provider_errors": False,
            },
            [0, 2, 3, 4, 5, 6, 7],
        ),
        (
            {"drop_invalid": False, "drop_missing_tool_calls": False, "drop_empty_replies": False},
            [0, 1, 2, 3, 5, 6, 7],
        ),
        (
            {
                "drop_invalid": False,
                "drop_missing_tool_calls": False,
                "drop_provider_errors": False,
            },
            [0, 1, 2, 5, 6, 7],
        ),
        (
            {"drop_invalid": False, "drop_empty_replies": False, "drop_provider_errors": False},
            [0, 1, 5, 6, 7],
        ),
    ],
)
def test_decision_quality(crafted_db, settings, kept):
    result = kept_steps(crafted_db, [{"name": "decision-quality", **settings}])
    assert result == without(bad_decisions=kept)


def test_achievement_window(crafted_db):
    # good unlocks at steps 5 and 10, bad-decisions at step 7
    assert kept_steps(crafted_db, [{"name": "achievement-window", "window": 2}]) == {
        "good": [3, 4, 5, 8, 9, 10],
        "bad-decisions": [5, 6, 7],
    }
    assert kept_steps(crafted_db, [{"name": "achievement-window", "window": 0}]) == {
        "good": [5, 10],
        "bad-decisions": [7],
    }
    only = {"name": "achievement-window", "window": 2, "achievements": ["place_table"]}
    assert kept_steps(crafted_db, [only]) == {"good": [8, 9, 10]}


def test_has_image(crafted_db):
    assert kept_steps(crafted_db, [{"name": "has-image"}]) == without("no-image")
    assert kept_steps(crafted_db, [{"name": "has-image", "min_images": 2}]) == {}


def test_filters_run_in_order(crafted_db):
    # status first drops failed; achievement-window then keeps only unlock windows
    kept = kept_steps(
        crafted_db,
        [{"name": "status"}, {"name": "decision-quality"}, {"name": "achievement-window"}],
    )
    assert kept == {"good": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "bad-decisions": [5, 6, 7]}


def test_bad_filter_settings_name_the_key(crafted_db):
    with pytest.raises(ConfigError, match=r"filters\.0\.min_steps"):
        kept_steps(crafted_db, [{"name": "min-steps", "min_steps": 0}])
    with pytest.raises(ConfigError, match=r"unknown key 'filters.0.min_step'.*min_steps"):
        kept_steps(crafted_db, [{"name": "min-steps", "min_step": 3}])
