"""Filters and exports on traces of the real openai policy against a loopback model server.

The scripted model answers step i of every episode with behaviour i % 6: 0 a native tool call,
1 a Qwen-style text tool call, 2 plain text (no tool call), 3 malformed JSON arguments, 4 an
unknown action, 5 a native tool call; seed 2's 5th request gets an HTTP 500 (the episode fails).
"""

from __future__ import annotations

import pytest

from tests.filter.openai_format import validate_file
from tests.filter.run import export, kept_steps, read_jsonl

pytestmark = pytest.mark.slow


def _by_seed(db, filters):
    from vlmforge.plugins import get_registry

    store = get_registry().create("store", "sqlite", {"path": str(db)})
    seeds = {ep.id: ep.seed for ep in store.episodes()}
    store.close()
    return {seeds[e]: steps for e, steps in kept_steps(db, filters).items()}


def test_recorded_as_expected(llm_db):
    everything = _by_seed(llm_db, [])
    assert everything == {0: list(range(12)), 1: list(range(12)), 2: list(range(5))}
    assert _by_seed(llm_db, [{"name": "status"}]) == {0: list(range(12)), 1: list(range(12))}


def test_decision_quality_on_model_traces(llm_db):
    clean = [i for i in range(12) if i % 6 in (0, 1, 5)]
    assert _by_seed(llm_db, [{"name": "decision-quality"}]) == {0: clean, 1: clean, 2: [0, 1]}
    native = [i for i in range(12) if i % 6 in (0, 5)]
    assert _by_seed(llm_db, [{"name": "decision-quality", "drop_parsed_from_text": True}]) == {
        0: native,
        1: native,
        2: [0],
    }
    only_provider = {
        "name": "decision-quality",
        "drop_invalid": False,
        "drop_missing_tool_calls": False,
        "drop_empty_replies": False,
    }
    assert _by_seed(llm_db, [only_provider]) == {
        0: list(range(12)),
        1: list(range(12)),
        2: [0, 1, 2, 3],
    }
    only_invalid = {**only_provider, "drop_invalid": True, "drop_provider_errors": False}
    valid = [i for i in range(12) if i % 6 in (0, 1, 5)]
    assert _by_seed(llm_db, [only_invalid]) == {0: valid, 1: valid, 2: [0, 1, 4]}
    only_missing = {**only_provider, "drop_missing_tool_calls": True, "drop_provider_errors": False}
    assert _by_seed(llm_db, [only_missing]) == {
        0: [i for i in range(12) if i % 6 != 2],
        1: [i for i in range(12) if i % 6 != 2],
        2: [0, 1, 3],
    }


def test_model_traces_export_to_valid_openai_rows(llm_db, tmp_path):
    stats = export([llm_db], tmp_path / "out", filters=[{"name": "status"}], val_fraction=0.0)
    # the malformed-arguments replies (2 per episode) are no training target: skipped, counted
    assert stats.rows.malformed_tool_call == 4
    assert stats.train_rows == 20 and validate_file(tmp_path / "out/train.jsonl") == []
    rows = read_jsonl(tmp_path / "out/train.jsonl")
    finals = [r["messages"][-1] for r in rows]
    # replies verbatim: native tool calls (incl. the unknown action), Qwen text, plain text
    assert sum(1 for m in finals if m.get("tool_calls")) == 12
    assert sum(1 for m in finals if (m.get("content") or "").startswith("<tool_call>")) == 4
    assert all(r["metadata"]["model"] == "test-model" for r in rows)
    assert all(r["metadata"]["user_has_image"] for r in rows)


def test_api_key_never_reaches_the_export(llm_db, tmp_path):
    export([llm_db], tmp_path / "out", filters=[], val_fraction=0.5, exporter="trl")
    for path in tmp_path.joinpath("out").rglob("*"):
        if path.is_file():
            assert b"sk-test-secret-42" not in path.read_bytes()
