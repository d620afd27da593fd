"""``vlmforge models merge``: base + LoRA adapter -> a standalone checkpoint whose logits are the
adapted model's, loadable with ``from_pretrained``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def adapter(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real PEFT LoRA adapter on the tiny model, with non-zero B weights (as after training)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(tiny_model)
    torch.manual_seed(0)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(base, config)
    out = tmp_path_factory.mktemp("adapter") / "adapter"
    peft_model.save_pretrained(out)
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
    return out


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


def test_merged_logits_equal_base_plus_adapter(adapter: Path, tiny_model: Path, tmp_path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    out = tmp_path / "merged"
    proc = run_cli("models", "merge", str(adapter), "--out", str(out), "--model", str(tiny_model))
    assert proc.returncode == 0, proc.stderr
    assert "merged" in proc.stdout and (out / "model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists()
    info = json.loads((out / "vlmforge_merge.json").read_text())
    assert info["adapter"] == str(adapter)

    merged = AutoModelForImageTextToText.from_pretrained(out).eval()
    adapted = PeftModel.from_pretrained(
        AutoModelForImageTextToText.from_pretrained(tiny_model), str(adapter)
    ).eval()
    plain = AutoModelForImageTextToText.from_pretrained(tiny_model).eval()
    ids = torch.randint(3, 200, (2, 12), generator=torch.Generator().manual_seed(1))
    expected = _logits(adapted, ids)
    assert torch.allclose(_logits(merged, ids), expected, atol=1e-5)
    assert not torch.allclose(_logits(plain, ids), expected, atol=1e-3)  # the adapter matters

    from vlmforge_hf.processor import load_processor

    assert load_processor(out) is not None  # tokenizer, processor and template came along
    assert (out / "chat_template.jinja").is_file() or "chat_template" in (
        out / "tokenizer_config.json"
    ).read_text()


def test_refuses_a_non_empty_out_and_a_missing_adapter(adapter: Path, tmp_path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run_cli("models", "merge", str(adapter), "--out", str(out))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert (out / "notes.txt").read_text() == "keep me"
    missing = run_cli("models", "merge", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "o").exists()


def test_a_train_output_dir_and_the_adapters_own_base(adapter: Path, tmp_path) -> None:
    """`vlmforge train` writes OUTPUT_DIR/adapter/; the base comes from adapter_config.json."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(adapter, run / "adapter")
    out = tmp_path / "merged"
    proc = run_cli("models", "merge", str(run), "--out", str(out), "--dtype", "bfloat16")
    assert proc.returncode == 0, proc.stderr
    info = json.loads((out / "vlmforge_merge.json").read_text())
    base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert info["adapter"] == str(run / "adapter") and info["base"] == base
    assert info["dtype"] == "bfloat16"
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
