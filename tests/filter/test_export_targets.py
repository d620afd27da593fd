"""Each trl export form loaded in its real target: TRL's own SFTTrainer (not vlmforge's).

The tiny model is loaded by TRL itself (``SFTTrainer(model=path)``: ``AutoModelForImageTextToText``
and ``AutoProcessor`` with ``trust_remote_code``), and each form trains from a working directory
that is not the export directory, a few steps on one repeated batch: the loss must go down.
Also here: the tiny model through the stock Auto classes and TRL's chat-template check, the
example trl configs, openai-sft against OpenAI's documented keys, and where staged files end up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.filter.run import export, read_jsonl

pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

ROWS = 2  # one batch, repeated: 3 optimizer steps at a high learning rate must lower the loss


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlmforge_hf.tiny import build_tiny

    out = tmp_path_factory.mktemp("tiny") / "qwen2-vl"
    build_tiny("qwen2-vl", out, vocab_size=512)
    return out


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with nothing in it."""
    return tmp_path_factory.mktemp("elsewhere")


def trl_export(db: Path, out: Path, mode: str, **options: Any) -> Path:
    export(
        [db],
        out,
        exporter="trl",
        val_fraction=0.0,
        filters=[{"name": "select", "seeds": [1, 4]}],
        rows={"mode": mode, "max_images": 3},
        exporter_options=options,
    )
    return out


def train_with_trl(
    tiny: Path,
    dataset: Any,
    workdir: Path,
    out: Path,
    *,
    assistant_only: bool = False,
    trust_remote_code: bool = True,
) -> tuple[Any, list[float]]:
    """TRL's SFTTrainer on ``dataset`` from ``workdir``; the trainer and the loss at each step."""
    import os

    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(out),
        max_steps=3,
        per_device_train_batch_size=ROWS,
        learning_rate=3e-3,
        lr_scheduler_type="constant",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        dataloader_pin_memory=False,
        max_length=None,
        trust_remote_code=trust_remote_code,
        assistant_only_loss=assistant_only,
        disable_tqdm=True,
        seed=0,
    )
    before = os.getcwd()
    os.chdir(workdir)
    try:
        trainer = SFTTrainer(model=str(tiny), args=args, train_dataset=dataset)
        expected = "ImageOnlyQwen2VLProcessor" if trust_remote_code else "Qwen2VLProcessor"
        assert type(trainer.processing_class).__name__ == expected
        trainer.train()
    finally:
        os.chdir(before)
    return trainer, [h["loss"] for h in trainer.state.log_history if "loss" in h]


def first_rows(ds: Any) -> Any:
    with_images = [i for i, r in enumerate(ds) if r["images"]]
    assert len(with_images) >= ROWS
    return ds.select(with_images[:ROWS])


def assert_learns(losses: list[float]) -> None:
    assert len(losses) == 3 and all(loss > 0 for loss in losses), losses
    assert losses[-1] < losses[0], losses


def test_trl_trains_on_step_rows_with_absolute_paths(crafted_db, tiny_dir, elsewhere, tmp_path):
    out = trl_export(crafted_db, tmp_path / "exports" / "step-abs", "step", absolute_paths=True)
    rows = read_jsonl(out / "train.jsonl")
    paths = [p for r in rows for p in r["images"]]
    assert paths and all(Path(p).is_absolute() and Path(p).is_file() for p in paths)
    assert not any(".vlmforge-filter-" in p for p in paths)
    assert {tuple(sorted(r)) for r in rows} == {("completion", "images", "metadata", "prompt")}
    ds = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    _, losses = train_with_trl(tiny_dir, first_rows(ds), elsewhere, tmp_path / "ckpt")
    assert_learns(losses)


def test_trl_trains_on_episode_rows_with_assistant_only_loss(
    crafted_db, tiny_dir, elsewhere, tmp_path
):
    out = trl_export(crafted_db, tmp_path / "ep", "episode", absolute_paths=True)
    rows = read_jsonl(out / "train.jsonl")
    # one schema per file: every row is a conversation, single-turn ones included
    assert {tuple(sorted(r)) for r in rows} == {("images", "messages", "metadata")}
    turns = [sum(m["role"] == "assistant" for m in r["messages"]) for r in rows]
    assert max(turns) > 1
    ds = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    rows4 = first_rows(ds)
    trainer, losses = train_with_trl(
        tiny_dir, rows4, elsewhere, tmp_path / "c", assistant_only=True
    )
    assert_learns(losses)
    # the loss was on the assistant's turns only: the rest of each conversation is masked
    batch = trainer.data_collator([trainer.train_dataset[0]])
    learned = int((batch["labels"] != -100).sum())
    assert 0 < learned < int(batch["attention_mask"].sum()) / 2


@pytest.mark.parametrize("mode", ["step", "episode"])
def test_trl_trains_on_the_embedded_dataset(crafted_db, tiny_dir, elsewhere, tmp_path, mode):
    out = trl_export(crafted_db, tmp_path / "emb", mode, embed_images=True)
    assert not (out / "images").exists() and not (out / "train.jsonl").exists()
    stats = json.loads((out / "filter_stats.json").read_text())
    assert stats["exports"]["train"]["file"] == "train.parquet"
    assert stats["exports"]["val"] == {"file": None, "rows": 0, "images_embedded": 0}
    moved = tmp_path / "moved"
    (out / "train.parquet").rename(moved)  # self-contained: the file alone, anywhere
    ds = datasets.load_dataset("parquet", data_files=str(moved), split="train")
    assert ds.num_rows == stats["train"]["rows"]
    image = next(r["images"][0] for r in ds if r["images"])
    assert image.size[0] > 0 and image.mode in ("RGB", "RGBA")
    _, losses = train_with_trl(tiny_dir, first_rows(ds), elsewhere, tmp_path / "c")
    assert_learns(losses)


def test_trl_default_path_where_torchvision_is_installed(crafted_db, tiny_dir, elsewhere, tmp_path):
    """Where torchvision is installed, TRL's defaults (no trust_remote_code) load the stock
    Qwen2VLProcessor from a tiny model folder, as from a real checkpoint."""
    pytest.importorskip("torchvision")
    out = trl_export(crafted_db, tmp_path / "emb", "step", embed_images=True)
    ds = datasets.load_dataset("parquet", data_files=str(out / "train.parquet"), split="train")
    _, losses = train_with_trl(
        tiny_dir, first_rows(ds), elsewhere, tmp_path / "c", trust_remote_code=False
    )
    assert_learns(losses)


def test_auto_processor_loads_the_tiny_model_as_a_vlm_processor(tiny_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    processor = AutoProcessor.from_pretrained(tiny_dir, trust_remote_code=True)
    assert isinstance(processor, ProcessorMixin)
    assert processor.image_processor is not None and processor.tokenizer is not None
    config = json.loads((tiny_dir / "processor_config.json").read_text())
    assert config["processor_class"] == "Qwen2VLProcessor"  # the stock name, as a real checkpoint
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    try:
        import torchvision  # noqa: F401
    except ImportError:
        # without torchvision the stock class fails loudly, as on a real checkpoint: never a
        # bare tokenizer that TRL then calls "not a vision-language model"
        with pytest.raises(ImportError, match="Torchvision"):
            AutoProcessor.from_pretrained(tiny_dir)
    else:
        assert isinstance(AutoProcessor.from_pretrained(tiny_dir), ProcessorMixin)


def test_the_tiny_chat_template_is_training_compatible(tiny_dir):
    from transformers import AutoProcessor
    from trl.chat_template_utils import get_training_chat_template

    processor = AutoProcessor.from_pretrained(tiny_dir, trust_remote_code=True)
    assert get_training_chat_template(processor) is None  # TRL needs no patch
    call = {"type": "function", "function": {"name": "interact", "arguments": {"action": "do"}}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "Step 1."}, {"type": "image"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "A tree."}],
            "tool_calls": [call],
        },
        {"role": "tool", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "text", "text": "Step 2."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "noop"}]},
    ]
    messages[1]["tool_calls"] = [call]
    out = processor.tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = out["input_ids"]
    masked = [i for i, keep in zip(ids, out["assistant_masks"], strict=True) if keep]
    assert processor.tokenizer.decode(masked) == (
        'A tree.\n<tool_call>\n{"name": "interact", "arguments": {"action": "do"}}\n'
        "</tool_call><|im_end|>\nnoop<|im_end|>\n"
    )


@pytest.mark.parametrize("mode", ["step", "episode"])
def test_openai_sft_without_metadata_uses_only_documented_keys(crafted_db, tmp_path, mode):
    from tests.filter.openai_format import validate_file

    rows = {"mode": mode, "max_images": 10}
    export([crafted_db], tmp_path / "meta", val_fraction=0.0, rows=rows)
    undocumented = validate_file(tmp_path / "meta/train.jsonl", documented_only=True)
    assert undocumented and all("unknown top-level key 'metadata'" in e for e in undocumented)

    out = tmp_path / "plain"
    opts = {"metadata": False}
    export([crafted_db], out, val_fraction=0.0, rows=rows, exporter_options=opts)
    assert validate_file(out / "train.jsonl", documented_only=True) == []
    lines = read_jsonl(out / "train.jsonl")
    assert len(lines) >= 10 and all(set(r) == {"messages", "tools"} for r in lines)
    calls = [c for r in lines for m in r["messages"] for c in m.get("tool_calls") or []]
    assert calls and all(isinstance(c["function"]["arguments"], str) for c in calls)
    if mode == "episode":
        assert any(m["role"] == "tool" for r in lines for m in r["messages"])


@pytest.mark.parametrize(
    ("option", "fix"),
    [("absolute_paths = true", "set one of them"), ('image_dir = "frames"', "remove it")],
)
def test_embed_images_refuses_the_file_options(crafted_db, tmp_path, cli, option, fix):
    cfg = tmp_path / "f.toml"
    cfg.write_text(f'exporter = "trl"\n[exporter_options]\nembed_images = true\n{option}\n')
    out = tmp_path / "out"
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db), "--output-dir", str(out),
        "--no-progress",
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{cfg}, line 2: exporter_options" in result.stderr and fix in result.stderr
    assert option.split(" ")[0] in result.stderr and not out.exists()


def test_the_trl_example_configs_write_one_schema(crafted_db, tmp_path, cli):
    configs = Path(__file__).resolve().parents[2] / "configs"

    def run(name: str) -> Path:
        out = tmp_path / name
        result = cli(
            "filter", "--config", str(configs / f"filter_trl_{name}.toml"),
            "--trace-db", str(crafted_db), "--output-dir", str(out), "--no-progress",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return out

    out = run("episodes")
    rows = read_jsonl(out / "train.jsonl") + read_jsonl(out / "val.jsonl")
    assert rows and {tuple(sorted(r)) for r in rows} == {("images", "messages", "metadata")}
    assert all(Path(p).is_absolute() and Path(p).is_file() for r in rows for p in r["images"])
    out = run("embedded")
    ds = datasets.load_dataset("parquet", data_files=str(out / "train.parquet"), split="train")
    assert set(ds.column_names) == {"prompt", "completion", "images", "metadata"}
    assert all(len(r["images"]) <= 4 for r in ds) and any(r["images"] for r in ds)


def test_published_dir_is_where_the_staged_files_end_up(tmp_path):
    from vlmforge.dataset.staging import make_staging, publish, published_dir

    out = tmp_path / "out"
    staging = make_staging(out)
    assert published_dir(staging) == out.resolve()
    assert published_dir(out) == out.resolve()  # a folder that is not a staging folder
    (staging / "a.txt").write_text("x")
    publish(staging, out)
    assert (published_dir(staging) / "a.txt").read_text() == "x"


def test_a_processor_vlmforge_saves_loads_with_auto_processor(tiny_dir, tmp_path):
    """What the trainers do with their output (processor.save_pretrained) keeps it loadable."""
    from transformers import AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    from vlmforge_hf.processor import load_processor

    load_processor(tiny_dir).save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved/processor_config.json").read_text())
    assert config["processor_class"] == "Qwen2VLProcessor" and "AutoProcessor" in config["auto_map"]
    processor = AutoProcessor.from_pretrained(tmp_path / "saved", trust_remote_code=True)
    assert isinstance(processor, ProcessorMixin)
    reloaded = load_processor(tmp_path / "saved", model_type="qwen2_vl")
    assert type(reloaded).__name__ == "ImageOnlyQwen2VLProcessor"
