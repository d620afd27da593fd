"""`vlmforge models tiny`: the tiny models build offline and load back with from_pretrained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("trl")


def test_plugin_modules_stay_light() -> None:
    """Importing the plugins (as `vlmforge --help` does) must not import torch/transformers."""
    code = (
        "import sys, vlmforge_hf, vlmforge_hf.commands\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"])
def test_tiny_families_build_and_reload(tmp_path: Path, family: str) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    from vlmforge_hf.processor import load_processor
    from vlmforge_hf.tiny import build_tiny

    summary = build_tiny(family, tmp_path / family)
    assert 100_000 < summary["parameters"] < 2_000_000
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / family)
    processor = load_processor(tmp_path / family)
    assert type(processor).__name__.startswith("ImageOnly")
    frame = Image.fromarray(np.full((64, 64, 3), 120, dtype=np.uint8))
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[[frame]], return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((inputs["input_ids"] == image_id).sum()) == 4  # 64 px = 2x2 merged patches
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]  # it generated


@pytest.mark.slow
def test_models_tiny_cli(tmp_path: Path, cli, export_dir: Path) -> None:
    corpus = export_dir / "openai-sft" / "train.jsonl"
    result = cli(
        "models", "tiny", "--family", "qwen2.5-vl", "--out", str(tmp_path / "m"),
        "--tokenizer-corpus", str(corpus), "--vocab-size", "1024",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "built tiny qwen2.5-vl model" in result.stdout
    info = json.loads((tmp_path / "m" / "vlmforge_tiny.json").read_text())
    assert info["model_type"] == "qwen2_5_vl" and info["vocab_size"] == 1024
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (tmp_path / "m" / name).is_file(), name
    bad = cli("models", "tiny", "--family", "llama", "--out", str(tmp_path / "x"))
    assert bad.returncode != 0 and "qwen2-vl" in bad.stderr


def test_tokenizer_corpus_shortens_sequences(tmp_path: Path, export_dir: Path) -> None:
    from vlmforge_hf.tiny import corpus_texts, train_tokenizer

    corpus = export_dir / "openai-sft" / "train.jsonl"
    row = json.loads(corpus.read_text().splitlines()[0])
    system = row["messages"][0]["content"]
    system = system if isinstance(system, str) else system[0]["text"]
    plain = len(train_tokenizer()(system)["input_ids"])
    taught = len(train_tokenizer(extra_texts=corpus_texts([corpus]))(system)["input_ids"])
    assert taught < plain / 3
    assert not any(t.startswith("data:") for t in corpus_texts([corpus]))


def test_tokenizer_corpus_ignores_row_metadata(tmp_path: Path, export_dir: Path) -> None:
    """Two exports of the same steps differ only in metadata (random run/episode ids, the
    trace database's path): they must teach the same tokenizer."""
    from vlmforge_hf.tiny import corpus_texts, train_tokenizer

    rows = [json.loads(line) for line in (export_dir / "openai-sft" / "train.jsonl").open()]
    assert all(row["metadata"]["episode"] for row in rows)  # ids the corpus must not see
    copies = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.jsonl"
        with path.open("w") as out:
            for row in rows:
                meta = {**row["metadata"], "episode": f"{name}-{row['metadata']['episode']}",
                        "source": f"/{name}/traces.db"}  # fmt: skip
                out.write(json.dumps({**row, "metadata": meta}) + "\n")
        copies.append(corpus_texts([path]))
    assert copies[0] == copies[1]
    assert not any("traces.db" in text for text in copies[0])
    vocab = [train_tokenizer(extra_texts=texts).get_vocab() for texts in copies]
    assert vocab[0] == vocab[1]


@pytest.mark.slow
def test_hub_style_checkpoint_loads_without_torchvision(tmp_path: Path) -> None:
    """A folder laid out like a Hub Qwen2-VL repo (preprocessor_config.json naming the stock
    processor class, chat_template.json, a video preprocessor config) loads through the
    image-only processor on this torchvision-free machine."""
    import importlib.util
    import shutil

    from vlmforge_hf.processor import load_processor
    from vlmforge_hf.tiny import build_tiny

    build_tiny("qwen2-vl", tmp_path / "tiny")
    hub = tmp_path / "hub"
    shutil.copytree(tmp_path / "tiny", hub)
    saved = json.loads((hub / "processor_config.json").read_text())
    (hub / "processor_config.json").unlink()
    image = saved["image_processor"] | {"processor_class": "Qwen2VLProcessor"}
    (hub / "preprocessor_config.json").write_text(json.dumps(image))
    (hub / "video_preprocessor_config.json").write_text(json.dumps(image))
    template = (hub / "chat_template.jinja").read_text()
    (hub / "chat_template.jinja").unlink()
    (hub / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    processor = load_processor(hub)
    assert type(processor).__name__ == "ImageOnlyQwen2VLProcessor"
    assert processor.chat_template == template
    frame = Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8))
    out = processor(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[[frame]])
    assert out["image_grid_thw"].tolist() == [[1, 4, 4]]
    if importlib.util.find_spec("torchvision") is None:
        from transformers import AutoProcessor, ProcessorMixin

        try:  # what vlmforge works around: no processor (only a tokenizer, or an error)
            stock = AutoProcessor.from_pretrained(hub)
        except (OSError, ValueError, AttributeError, ImportError):
            stock = None
        assert not isinstance(stock, ProcessorMixin)
