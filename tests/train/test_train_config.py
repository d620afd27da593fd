"""Train config: every key maps to the run, example configs load, bad settings fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmforge.config import load_toml, validate
from vlmforge.errors import ConfigError
from vlmforge_hf.sft.config import FullSFTConfig, LoraSFTConfig

ROOT = Path(__file__).resolve().parents[2]
BASE = {"model": "m", "dataset": "d.jsonl", "output_dir": "out"}


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("train_*.toml")), ids=str)
def test_example_configs_load(path: Path) -> None:
    from vlmforge.plugins import get_registry

    source = load_toml(path)
    data = dict(source.data)
    trainer = data.pop("trainer")
    model = get_registry().get("trainer", trainer).config_model()
    config = validate(model, data, str(path), toml=source)
    assert config.model and config.output_dir
    # supervised trainers read a dataset; rollout trainers (grpo) play an environment instead
    assert getattr(config, "dataset", None) or getattr(config, "env", None)


def test_every_training_key_reaches_trl(tmp_path: Path) -> None:
    from vlmforge_hf.sft.trainer import training_args

    config = LoraSFTConfig(
        **BASE,
        eval_dataset="v.jsonl",
        learning_rate=3e-4,
        lr_scheduler="cosine",
        warmup_ratio=0.1,
        weight_decay=0.01,
        max_grad_norm=0.5,
        batch_size=3,
        gradient_accumulation_steps=5,
        epochs=2.5,
        max_steps=77,
        seed=11,
        precision="bf16",
        gradient_checkpointing=True,
        logging_steps=2,
        eval_steps=9,
        save_steps=13,
        save_total_limit=4,
    )
    args = training_args(config, tmp_path, "cpu", "bf16")
    assert args.output_dir == str(tmp_path / "checkpoints")
    assert (args.learning_rate, args.lr_scheduler_type.value) == (3e-4, "cosine")
    assert (args.warmup_steps, args.weight_decay, args.max_grad_norm) == (0.1, 0.01, 0.5)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (3, 5)
    assert (args.num_train_epochs, args.max_steps, args.seed) == (2.5, 77, 11)
    assert args.bf16 and not args.fp16 and args.use_cpu
    assert args.gradient_checkpointing
    assert (args.logging_steps, args.eval_steps, args.eval_strategy.value) == (2, 9, "steps")
    assert (args.save_steps, args.save_total_limit) == (13, 4)
    assert args.completion_only_loss and args.max_length is None
    plain = training_args(LoraSFTConfig(**BASE, warmup_steps=7), tmp_path, "cpu", "fp32")
    assert plain.warmup_steps == 7 and plain.max_steps == -1 and not plain.bf16
    assert plain.eval_strategy.value == "no" and not plain.gradient_checkpointing


def test_lora_keys_reach_peft() -> None:
    import re

    from vlmforge_hf.sft.trainer import LoraSFTTrainer

    lora = {"r": 4, "alpha": 12, "dropout": 0.2, "target_modules": ["q_proj", "down_proj"]}
    lora["modules_to_save"] = ["lm_head"]
    peft = LoraSFTTrainer(LoraSFTConfig(**BASE, lora=lora)).peft_config()
    assert (peft.r, peft.lora_alpha, peft.lora_dropout) == (4, 12, 0.2)
    assert peft.modules_to_save == ["lm_head"]
    pattern = re.compile(peft.target_modules)
    assert pattern.fullmatch("model.language_model.layers.0.self_attn.q_proj")
    assert pattern.fullmatch("model.language_model.layers.1.mlp.down_proj")
    assert not pattern.fullmatch("model.language_model.layers.0.self_attn.k_proj")
    assert not pattern.fullmatch("model.visual.blocks.0.mlp.down_proj")  # language model only


def test_precision_and_device_resolution() -> None:
    from vlmforge_hf.sft.trainer import resolve_device, resolve_precision

    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ConfigError, match="fp16' needs a CUDA GPU"):
        resolve_precision("fp16", "cpu")
    import torch

    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"eval_steps": 5}, "eval_steps needs eval_dataset"),
        ({"warmup_steps": 3, "warmup_ratio": 0.1}, "not both"),
        ({"min_pixels": 1000, "max_pixels": 10}, "min_pixels is larger"),
        ({"lr_scheduler": "cosine_annealing"}, "lr_scheduler"),
        ({"precision": "int8"}, "precision"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"lora": {"rank": 8}}, "unknown key 'lora.rank'"),
    ],
)
def test_bad_values(extra: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        validate(LoraSFTConfig, {**BASE, **extra}, "t.toml")


def test_unknown_keys_name_file_line_and_key(tmp_path: Path, cli) -> None:
    path = tmp_path / "train.toml"
    path.write_text('model = "m"\ndataset = "d.jsonl"\nlearnig_rate = 0.1\noutput_dir = "o"\n')
    result = cli("train", "--config", str(path), env={"COLUMNS": "400"})
    assert result.returncode == 2
    assert f"{path}, line 3: unknown key 'learnig_rate'" in result.stderr
    assert "Did you mean 'learning_rate'?" in result.stderr
    # [lora] is not a key of the full fine-tuning trainer
    path.write_text(
        'trainer = "sft"\nmodel = "m"\ndataset = "d"\noutput_dir = "o"\n[lora]\nr = 4\n'
    )
    result = cli("train", "--config", str(path))
    assert result.returncode == 2 and "unknown key 'lora'" in result.stderr
    result = cli("train", "--trainer", "lora-sf", "--config", str(path))
    assert result.returncode == 2 and "Did you mean 'lora-sft'?" in result.stderr


def test_sft_config_has_no_lora() -> None:
    assert "lora" not in FullSFTConfig.model_fields
    assert FullSFTConfig(**BASE).learning_rate == 1e-5


def test_qlora_on_cpu_is_refused(tmp_path: Path, tiny_model: Path, export_dir: Path) -> None:
    import torch

    from vlmforge_hf.sft.trainer import LoraSFTTrainer

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    config = LoraSFTConfig(
        model=str(tiny_model),
        dataset=str(export_dir / "openai-sft" / "train.jsonl"),
        output_dir=str(tmp_path / "out"),
        lora={"qlora": True},
    )
    with pytest.raises(ConfigError) as err:
        LoraSFTTrainer(config).train()
    assert "lora.qlora = true needs a CUDA GPU" in str(err.value)
    assert "Set lora.qlora = false" in str(err.value)
    assert err.value.exit_code == 2
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_resume_false_refuses_existing_checkpoints(tmp_path: Path) -> None:
    from vlmforge_hf.sft.trainer import LoraSFTTrainer

    (tmp_path / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    settings = {**BASE, "output_dir": str(tmp_path), "model": str(tmp_path)}  # a folder that exists
    config = LoraSFTConfig(**settings, resume=False, device="cpu")
    with pytest.raises(ConfigError, match="checkpoint-4"):
        LoraSFTTrainer(config).train()


def test_pixel_limits_change_image_tokens(tiny_model: Path) -> None:
    import numpy as np
    from PIL import Image

    from vlmforge_hf.processor import load_processor, set_pixel_limits

    frame = Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8))

    def tokens(min_pixels: int | None, max_pixels: int | None) -> int:
        processor = load_processor(tiny_model)
        set_pixel_limits(processor, min_pixels, max_pixels)
        grid = processor.image_processor(images=[frame], return_tensors="pt")["image_grid_thw"]
        return int(grid.prod()) // 4  # 2x2 merge

    assert tokens(None, None) == 4
    assert tokens(112 * 112, None) == 16  # upscaled to 112x112
    assert tokens(None, 28 * 28) == 1  # downscaled to one token


def test_hf_eval_example_config_loads() -> None:
    """configs/hf_eval_tiny.toml is a valid eval config whose [policy] the hf policy accepts."""
    from vlmforge.eval_config import load_eval_config
    from vlmforge.plugins import get_registry
    from vlmforge_hf.config import HFPolicyConfig

    path = ROOT / "configs" / "hf_eval_tiny.toml"
    flags = dict.fromkeys(
        ("run_name", "seeds", "concurrency", "max_steps", "frames_dir", "json_summary", "env",
         "policy", "model", "store", "trace_db")
    )  # fmt: skip
    config = load_eval_config(str(path), flags).config
    (policy,) = config.policy_list()
    assert policy.name == "hf"
    assert get_registry().get("policy", "hf").config_model() is HFPolicyConfig
    settings = validate(HFPolicyConfig, policy.settings(), str(path))
    assert settings.adapter == "runs/train-lora-tiny" and settings.batch_size == 8


def test_oversample_repeats_the_rows_that_act() -> None:
    from vlmforge_hf.sft.data import Example
    from vlmforge_hf.sft.oversample import oversampled, target_actions

    def ex(*actions: str, tool: str = "interact_many") -> Example:
        args = {"actions": list(actions)} if tool == "interact_many" else {"action": actions[0]}
        call = {"type": "function", "function": {"name": tool, "arguments": args}}
        return Example(prompt=[], target={"role": "assistant", "content": None,
                                          "tool_calls": [call]}, images=[])  # fmt: skip

    moves = ["move_left", "move_right", "noop"]
    data = [ex("move_left"), ex("do"), ex("noop", "move_right"), ex("move_left", "sleep"),
            ex("place_table", tool="interact")]  # fmt: skip
    assert target_actions(data[3].target) == ["move_left", "sleep"]
    assert target_actions(data[4].target) == ["place_table"]
    out, info = oversampled(data, 3, moves)
    assert [target_actions(e.target) for e in out].count(["do"]) == 3
    assert len(out) == 2 + 3 * 3 and info["rows_repeated"] == 3 and info["rows_trained"] == 11
    assert oversampled(data, 1, moves) == (data, {"oversample": 1})
    with pytest.raises(ConfigError, match="oversample needs common_actions"):
        validate(FullSFTConfig, {**BASE, "oversample": 4}, "t.toml")


@pytest.mark.slow
def test_oversample_reaches_the_training_set(tmp_path: Path, tiny_model: Path, export_dir: Path):
    import json

    from vlmforge_hf.sft.trainer import FullSFTTrainer

    config = FullSFTConfig(model=str(tiny_model), output_dir=str(tmp_path / "out"),
                           dataset=str(export_dir / "openai-sft" / "train.jsonl"),
                           max_steps=1, batch_size=2, oversample=3, progress=False,
                           common_actions=["move_left", "move_right", "move_up", "move_down",
                                           "noop"])  # fmt: skip
    FullSFTTrainer(config).train()
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    info = meta["oversample"]
    assert info["oversample"] == 3 and info["rows"] == meta["datasets"]["train"]["examples"]
    assert 0 < info["rows_repeated"] < info["rows"]  # random play: some moves, some not
    assert info["rows_trained"] == info["rows"] + 2 * info["rows_repeated"]
    assert meta["prompt_tools"] is True  # the openai-sft export carries the tool schemas
