"""Loading models and processors for Qwen-VL families, on machines with or without torchvision.

The stock Qwen-VL processors include a video processor that needs torchvision; on CPU machines
without it, ``AutoProcessor`` silently returns only the tokenizer and the processor classes fail
to build (see docs/train.md). vlmforge never feeds videos, so it loads these families through
subclasses that take only the image processor, the tokenizer and the chat template. transformers
then picks its PIL image processor on its own when torchvision is missing. They save under the
stock class name with themselves as custom code (``processor_files.py``), so the stock
``AutoProcessor`` loads what vlmforge saves.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError
from vlmforge_hf.model_path import OFFLINE, model_location, not_loadable

# model_type in config.json -> (module, processor class) of the stock processor
PROCESSOR_FOR_MODEL_TYPE: dict[str, tuple[str, str]] = {
    "qwen2_vl": ("transformers.models.qwen2_vl.processing_qwen2_vl", "Qwen2VLProcessor"),
    "qwen2_5_vl": ("transformers.models.qwen2_5_vl.processing_qwen2_5_vl", "Qwen2_5_VLProcessor"),
    "qwen3_vl": ("transformers.models.qwen3_vl.processing_qwen3_vl", "Qwen3VLProcessor"),
}


@functools.cache
def image_only_processor_class(model_type: str) -> Any:
    """A subclass of the family's processor whose ``__init__`` has no video processor."""
    import importlib

    module_name, class_name = PROCESSOR_FOR_MODEL_TYPE[model_type]
    base = getattr(importlib.import_module(module_name), class_name)

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        # The base passes (image_processor, tokenizer, video_processor) positionally;
        # ProcessorMixin zips them with this class's attributes, which exclude the video one.
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Saved under the stock class name, as a real checkpoint, plus this class as custom code,
        # so AutoProcessor loads the folder (see processor_files.py).
        from vlmforge_hf.processor_files import write_auto_files

        saved = base.save_pretrained(self, save_directory, *args, **kwargs)
        write_auto_files(Path(save_directory), model_type)
        return saved

    members = {"__init__": __init__, "save_pretrained": save_pretrained, "__module__": __name__}
    return type(f"ImageOnly{class_name}", (base,), members)


def model_type_of(path: str | Path) -> str | None:
    """``model_type`` from a local model folder's config.json (None if there is none)."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{config}: cannot read the model config: {exc}") from None


def model_type_for(path: str | Path) -> str:
    """The ``model_type`` of a local folder or a model id in the Hugging Face cache."""
    from transformers import AutoConfig

    where = model_location(path)
    found = model_type_of(where)
    if found is not None:
        return found
    try:
        return str(AutoConfig.from_pretrained(where, **OFFLINE).model_type)
    except (OSError, ValueError) as exc:
        raise not_loadable(path, exc) from None


def load_processor(path: str | Path, *, model_type: str | None = None) -> Any:
    """The processor saved in ``path`` (a local folder or a model id), without torchvision.

    Qwen2-VL, Qwen2.5-VL and Qwen3-VL load through :func:`image_only_processor_class`; any other
    family through ``AutoProcessor``, which must return a real processor (not only a tokenizer).
    """
    from transformers import AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    model_type = model_type or model_type_for(path)
    where = model_location(path)
    try:
        if model_type in PROCESSOR_FOR_MODEL_TYPE:
            return image_only_processor_class(model_type).from_pretrained(where, **OFFLINE)
        processor = AutoProcessor.from_pretrained(where, **OFFLINE)
    except OSError as exc:
        raise not_loadable(path, exc, what="processor") from None
    if not isinstance(processor, ProcessorMixin):
        raise ConfigError(
            f"'{path}' (model_type {model_type!r}) has no image processor that loads here: "
            "AutoProcessor returned only a tokenizer. Install the packages its processor needs "
            "(often torchvision) or use a Qwen2-VL / Qwen2.5-VL / Qwen3-VL model."
        )
    return processor


def set_pixel_limits(processor: Any, min_pixels: int | None, max_pixels: int | None) -> None:
    """Apply image area limits (pixels) to the image processor's ``size`` (saved with it)."""
    if min_pixels is None and max_pixels is None:
        return
    image_processor = processor.image_processor
    size = dict(getattr(image_processor, "size", None) or {})
    if min_pixels is not None:
        size["shortest_edge"] = min_pixels
    if max_pixels is not None:
        size["longest_edge"] = max_pixels
    image_processor.size = size


def pixel_limits(processor: Any) -> tuple[int | None, int | None]:
    """(min_pixels, max_pixels) the processor applies."""
    size = dict(getattr(processor.image_processor, "size", None) or {})
    return size.get("shortest_edge"), size.get("longest_edge")


def quiet_transformers() -> None:
    """No per-shard progress bars from transformers (vlmforge shows its own progress)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_model(
    path: str | Path, *, dtype: Any = None, device_map: Any = None, quantization: Any = None
) -> Any:
    """``AutoModelForImageTextToText.from_pretrained(path)`` (local files only) with a clear
    error if it fails."""
    from transformers import AutoModelForImageTextToText

    quiet_transformers()
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if device_map is not None:
        kwargs["device_map"] = device_map
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    where = model_location(path)
    try:
        return AutoModelForImageTextToText.from_pretrained(where, **OFFLINE, **kwargs)
    except OSError as exc:
        raise not_loadable(path, exc) from None
