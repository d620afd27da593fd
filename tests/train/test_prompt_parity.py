"""The hf policy asks the model exactly what training showed it: for every step of a recorded
teacher episode, the prompt the policy renders equals, byte for byte, the prompt its training
row renders (system prompt, history, tools, image placeholders)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("trl")

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def teacher_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("parity") / "teacher.db"
    config = db.parent / "eval.toml"
    config.write_text(
        f"""
run_name = "teacher"
seeds = "3"
max_steps = 40
[env]
name = "crafter"
[policy]
name = "scripted"
actions_per_call = 1
rationale = false
[store]
name = "sqlite"
path = "{db}"
"""
    )
    result = run_cli("eval", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return db


def _export(db: Path, out: Path, include_tools: bool) -> Path:
    config = out.parent / f"filter-{out.name}.toml"
    config.write_text(
        f"""
trace_dbs = ["{db}"]
output_dir = "{out}"
val_fraction = 0.0
shuffle = false
dedupe = false
progress = false
[rows]
assistant = "tool_calls"
include_tools = {str(include_tools).lower()}
"""
    )
    result = run_cli("filter", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return out / "train.jsonl"


def _rows_by_step(path: Path, processor) -> dict[int, str]:
    from vlmforge_hf.rendering import render_prompt
    from vlmforge_hf.sft.data import parse_row

    rows = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        example = parse_row(line, fmt="auto", base_dir=path.parent, source=f"{path}:{n}")
        step = json.loads(line)["metadata"]["step"]
        rows[step] = (render_prompt(processor, example.prompt, example.tools), example.target)
    return rows


@pytest.mark.parametrize("include_tools", [False, True])
def test_policy_prompt_equals_the_training_prompt(teacher_db, tiny_model, tmp_path, include_tools):
    import asyncio

    from vlmforge.plugins import get_registry
    from vlmforge.trace import FunctionCall, ToolCall

    registry = get_registry()
    train = _export(teacher_db, tmp_path / f"export-{include_tools}", include_tools)
    policy = registry.create(
        "policy", "hf", {"model": str(tiny_model), "tools_in_prompt": include_tools}
    )
    rows = _rows_by_step(train, policy.loaded.processor)
    assert len(rows) >= 20  # one row per step (the teacher may die before step 40)
    env = registry.create("environment", "crafter", {"max_steps": 40})
    episode = env.start(3)
    obs = episode.reset()
    hf_episode = asyncio.run(policy.start_episode(env.spec(), 3))
    compared = 0
    for index in range(40):
        _, text, images, _ = hf_episode.render(obs)
        assert len(images) == 1
        expected, target = rows[index]
        assert text == expected, f"step {index}"
        compared += 1
        call = target["tool_calls"][0]["function"]  # replay the teacher's action
        outcome = episode.step(
            [ToolCall(id="c", function=FunctionCall(name=call["name"],
                                                    arguments=json.dumps(call["arguments"])))]
        )  # fmt: skip
        obs = outcome.observation
        if outcome.done:
            break
    assert compared == len(rows)


def test_tools_in_prompt_auto_follows_the_training_rows(tiny_model, tmp_path):
    from vlmforge.plugins import get_registry

    out = tmp_path / "train-out"
    shutil.copytree(tiny_model, out / "model")
    policy = get_registry().create("policy", "hf", {"model": str(out)})
    assert policy.tools_in_prompt is True  # no training metadata: as the openai-sft rows
    (out / "metadata.json").write_text(json.dumps({"trainer": "sft", "prompt_tools": False}))
    policy = get_registry().create("policy", "hf", {"model": str(out)})
    assert policy.tools_in_prompt is False
    assert policy.describe()["resolved_tools_in_prompt"] is False
    forced = get_registry().create("policy", "hf", {"model": str(out), "tools_in_prompt": True})
    assert forced.tools_in_prompt is True
