"""Close the loop: LoRA-train the tiny model on a real export with `vlmforge train`, resume it,
then let the `hf` policy (base + the saved adapter) play Crafter episodes recorded in SQLite."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmforge import __version__
from vlmforge.toolcalls import parse_tool_calls_from_text


def _config(tmp_path: Path, tiny_model: Path, export_dir: Path) -> Path:
    train = export_dir / "openai-sft" / "train.jsonl"
    with_bad = tmp_path / "train_with_bad_row.jsonl"
    with_bad.write_text(train.read_text() + '{"messages": []}\n')
    path = tmp_path / "train.toml"
    path.write_text(
        f"""
trainer = "lora-sft"
model = "{tiny_model}"
dataset = "{with_bad}"
eval_dataset = "{export_dir / "openai-sft" / "val.jsonl"}"
output_dir = "{tmp_path / "out"}"
skip_bad_rows = true
learning_rate = 5e-3
lr_scheduler = "constant"
batch_size = 4
max_steps = 100
eval_steps = 4
save_steps = 4
max_pixels = 12544
[lora]
r = 8
alpha = 16
dropout = 0.0
modules_to_save = ["lm_head"]
"""
    )
    return path


@pytest.mark.slow
def test_lora_train_resume_and_play(
    tmp_path: Path, cli_subprocess, tiny_model: Path, export_dir: Path
):
    config = _config(tmp_path, tiny_model, export_dir)
    out = tmp_path / "out"
    result = cli_subprocess(  # the train smoke test: a real `python -m vlmforge train`
        "train", "--config", str(config), "--max-steps", "8", env={"COLUMNS": "200"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained with lora-sft: 8 steps" in result.stdout
    assert "steps/s" in result.stderr and "loss" in result.stderr  # rich progress

    curve = json.loads((out / "loss_curve.json").read_text())
    losses = [p["loss"] for p in curve["train"]]
    assert [p["step"] for p in curve["train"]] == list(range(1, 9))
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3  # it learns
    assert [p["step"] for p in curve["eval"]][:2] == [4, 8]
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    meta = json.loads((out / "metadata.json").read_text())
    data = meta["datasets"]["train"]
    assert data["sha256"] == hashlib.sha256(Path(data["path"]).read_bytes()).hexdigest()
    assert data["skipped"] == 1 and data["examples"] == data["rows"] - 1
    assert meta["datasets"]["eval"]["examples"] > 0 and meta["eval_loss"] > 0
    assert meta["base_model"] == str(tiny_model) and meta["vlmforge_version"] == __version__
    assert meta["hardware"]["device"] == "cpu" and meta["precision"] == "fp32"
    assert meta["wall_time_s"] > 0 and meta["steps"] == 8 and meta["resumed_from"] is None
    assert meta["tokens_seen"] > 8 * 2 * 50  # 8 steps of 2 rows of ~100+ prompt tokens
    resolved = json.loads((out / "train_config.json").read_text())
    assert resolved["max_steps"] == 8 and resolved["lora"]["r"] == 8  # flag won over the file
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"]) == (8, 16)
    processor = json.loads((out / "adapter" / "processor_config.json").read_text())
    assert processor["image_processor"]["size"]["longest_edge"] == 12544

    # resume: a longer run continues from the last checkpoint instead of starting over
    # (in-process, with the config as the CLI resolved it, to save a second interpreter start)
    from vlmforge_hf.sft.config import LoraSFTConfig
    from vlmforge_hf.sft.trainer import LoraSFTTrainer

    resolved.pop("trainer")
    LoraSFTTrainer(LoraSFTConfig(**{**resolved, "max_steps": 10, "progress": False})).train()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["resumed_from"].endswith("checkpoint-8") and meta["steps"] == 10
    curve = json.loads((out / "loss_curve.json").read_text())
    assert [p["step"] for p in curve["train"]] == list(range(1, 11))

    _play(tmp_path / "eval.db", out)


def _play(db: Path, train_out: Path) -> None:
    """The hf policy (base from the adapter's config + adapter) plays 3 episodes, 3 at once."""
    from vlmforge.plugins import get_registry
    from vlmforge.session import describe_run, open_run, play

    registry = get_registry()
    env = registry.create("environment", "crafter", {"max_steps": 6})
    policy = registry.create(
        "policy", "hf", {"adapter": str(train_out), "max_new_tokens": 24, "batch_size": 3}
    )
    spec = env.spec()
    store = registry.create("store", "sqlite", {"path": str(db)})
    run = describe_run(
        "hf-tiny",
        env_name="crafter",
        env=env,
        spec=spec,
        policy_name="hf",
        policy=policy,
        seeds=[0, 1, 2],
    )
    opened = open_run(store, run, resume=False)
    try:
        asyncio.run(play(opened, env=env, spec=spec, policy=policy, store=store, concurrency=3))
        episodes = list(store.episodes([run.id]))
        assert len(episodes) == 3
        assert all(e.status == "done" and e.steps > 0 for e in episodes)
        steps = [s for e in episodes for s in store.steps(e.id)]
        assert max(policy.batcher.batch_sizes) > 1  # concurrent episodes shared generate calls
        for step in steps:
            assert step.lm_call is not None and step.lm_call.provider == "hf"
            assert step.lm_call.usage.prompt_tokens > 100 and step.lm_call.usage.completion_tokens
            assert step.lm_call.latency_s > 0
            text = step.reply.content
            assert isinstance(text, str)
            # executed calls are exactly what parses from the verbatim reply: never invented
            parsed = parse_tool_calls_from_text(text, id_prefix="x")
            assert [c.function for c in step.tool_calls] == [c.function for c in parsed]
            assert step.prompt[-1].image_hashes()  # the frame was in the prompt
    finally:
        asyncio.run(policy.aclose())
        store.close()


def test_lora_sft_starts_from_a_full_sft_output_folder(
    tmp_path: Path, cli_subprocess, tiny_model: Path, export_dir: Path
):
    """`--trainer sft` saves its model in OUTPUT_DIR/model/; every command that takes a model
    (lora-sft here, as eval and grpo already did) accepts OUTPUT_DIR itself."""
    import shutil

    from vlmforge_hf.model_path import model_location

    sft_out = tmp_path / "sft-out"
    shutil.copytree(tiny_model, sft_out / "model")
    (sft_out / "metadata.json").write_text("{}")
    assert model_location(sft_out) == str(sft_out / "model")
    assert model_location(tiny_model) == str(tiny_model)
    adapter_like = tmp_path / "adapter"  # an adapter folder is never redirected
    shutil.copytree(tiny_model, adapter_like / "model")
    (adapter_like / "adapter_config.json").write_text("{}")
    assert model_location(adapter_like) == str(adapter_like)

    result = cli_subprocess(
        "train", "--trainer", "lora-sft", "--model", str(sft_out),
        "--dataset", str(export_dir / "openai-sft" / "train.jsonl"),
        "--output-dir", str(tmp_path / "lora"), "--max-steps", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "lora" / "adapter" / "adapter_config.json").is_file()
