"""Loading a base model plus an optional LoRA adapter, and the processor that goes with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError
from vlmforge_hf.model_path import model_location
from vlmforge_hf.processor import (
    load_model,
    load_processor,
    model_type_for,
    set_pixel_limits,
)


@dataclass
class LoadedModel:
    """A model ready to generate, with what it was loaded from."""

    model: Any
    processor: Any
    base: str
    adapter: str | None
    device: str
    dtype: str


def resolve_adapter(adapter: str) -> Path:
    """An adapter folder, or a `vlmforge train` output folder holding ``adapter/``."""
    path = Path(adapter).expanduser()  # a local folder (never an id: nothing is downloaded)
    if not path.exists():
        raise ConfigError(
            f"adapter folder '{adapter}' does not exist. Give the adapter folder written by "
            "`vlmforge train --trainer lora-sft` (or its output_dir)."
        )
    if (path / "adapter_config.json").is_file():
        return path
    if (path / "adapter" / "adapter_config.json").is_file():
        return path / "adapter"
    raise ConfigError(
        f"adapter '{adapter}' has no adapter_config.json (nor adapter/adapter_config.json). "
        "Give the adapter folder written by `vlmforge train --trainer lora-sft`."
    )


def adapter_base(adapter_dir: Path) -> str:
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"{adapter_dir}/adapter_config.json names no base model; set `model`.")
    return str(base)


def training_metadata(loaded: LoadedModel) -> dict[str, Any] | None:
    """The ``metadata.json`` of the `vlmforge train` run that wrote the adapter or the model
    (the folder above ``adapter/`` or ``model/``), or None for other models."""
    for folder in (loaded.adapter, loaded.base):
        if folder is None:
            continue
        path = Path(folder).parent / "metadata.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read the training metadata: {exc}") from None
            return data if isinstance(data, dict) else None
    return None


def trained_prompt_tools(loaded: LoadedModel) -> bool:
    """Whether the model was trained with the tool schemas in its prompts (true when unknown:
    the openai-sft export carries them)."""
    meta = training_metadata(loaded)
    found = meta.get("prompt_tools") if meta else None
    return True if found is None else bool(found)


def _has_processor(path: Path) -> bool:
    return (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()


def resolve_device_dtype(device: str, dtype: str) -> tuple[str, str]:
    """``auto`` device: cuda if visible; ``auto`` dtype: bfloat16 on GPUs that support it."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = 'cuda' but no CUDA GPU is visible. Use 'auto' or 'cpu'.")
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    return device, dtype


def load(
    model: str | None,
    adapter: str | None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> LoadedModel:
    """Base (+ adapter via ``PeftModel.from_pretrained``) in eval mode on ``device``; local
    files only (a missing folder fails before torch is imported)."""
    adapter_dir = resolve_adapter(adapter) if adapter else None
    base = model_location(model or adapter_base(adapter_dir))  # type: ignore[arg-type]
    import torch

    device, dtype = resolve_device_dtype(device, dtype)
    processor_dir = adapter_dir if adapter_dir and _has_processor(adapter_dir) else base
    processor = load_processor(processor_dir, model_type=model_type_for(base))
    set_pixel_limits(processor, min_pixels, max_pixels)
    net = load_model(base, dtype=getattr(torch, dtype))
    if adapter_dir is not None:
        from peft import PeftModel

        net = PeftModel.from_pretrained(net, str(adapter_dir))
    net.to(device)
    net.eval()
    return LoadedModel(
        net, processor, base, str(adapter_dir) if adapter_dir else None, device, dtype
    )
