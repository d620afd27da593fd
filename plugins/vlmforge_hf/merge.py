"""``vlmforge models merge``: a base model plus a LoRA adapter as one standalone checkpoint.

The adapter's weights are folded into the base (``PeftModel.merge_and_unload``) and the result
is saved with ``save_pretrained`` (safetensors) next to the processor and tokenizer files of
the model the adapter was trained on, so ``AutoModelForImageTextToText.from_pretrained(OUT)``
and ``AutoProcessor.from_pretrained(OUT)`` load it like any checkpoint, and servers that take a
Hugging Face folder (``vllm serve OUT``) serve it. The folder is written beside ``OUT`` and
moved into place only when everything is saved.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from vlmforge_hf.model_out import check_model_out, staged_folder

MERGE_INFO = "vlmforge_merge.json"
# Files of the source folders that are not carried over: weights (replaced by the merged ones),
# the adapter's own files, and metadata that describes the source model rather than this one.
_NOT_COPIED = (".safetensors", ".bin", ".pt", ".pth", ".index.json")
_NOT_COPIED_NAMES = {"adapter_config.json", "vlmforge_tiny.json", "README.md", "config.json"}


def merge_adapter(
    adapter: str,
    out: str | Path,
    *,
    model: str | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Merge ``adapter`` (an adapter folder or a `vlmforge train` output folder) into its base
    (``model``, default: the base named in ``adapter_config.json``) and save it to ``out``."""
    out = Path(out)
    check_model_out(out, overwrite)  # before anything heavy is imported
    from vlmforge_hf.loader import load

    loaded = load(model, adapter, device="cpu", dtype=dtype)
    merged = loaded.model.merge_and_unload()
    sources = [Path(loaded.base)] + ([Path(loaded.adapter)] if loaded.adapter else [])
    with staged_folder(out) as staging:
        merged.save_pretrained(staging, safe_serialization=True)
        for source in sources:  # processor, tokenizer, chat template (the adapter's win)
            _copy_side_files(source, staging)
        info = {
            "base": loaded.base,
            "adapter": loaded.adapter,
            "dtype": loaded.dtype,
            "parameters": sum(p.numel() for p in merged.parameters()),
        }
        (staging / MERGE_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return {"out": str(out), **info}


def _copy_side_files(source: Path, dest: Path) -> None:
    for path in sorted(source.iterdir()):
        if not path.is_file() or path.name in _NOT_COPIED_NAMES:
            continue
        if path.name.endswith(_NOT_COPIED) or path.name == MERGE_INFO:
            continue
        if path.name == "generation_config.json" and (dest / path.name).exists():
            continue  # save_pretrained wrote the merged model's own
        shutil.copy2(path, dest / path.name)
