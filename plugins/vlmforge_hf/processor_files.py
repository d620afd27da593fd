"""The processor files that let transformers' stock Auto classes load a folder vlmforge saved.

A real Qwen-VL checkpoint names the stock processor class (``Qwen2VLProcessor``), whose video
processor needs torchvision. vlmforge's image-only processors save the same way (tiny models and
every trained model: their ``save_pretrained`` calls :func:`write_auto_files`), so
``AutoProcessor`` behaves as it does on a real checkpoint: with torchvision installed it returns
the stock processor; without it, it raises transformers' own "requires the Torchvision library"
error (never a bare tokenizer).

It also ships, as a real checkpoint with custom code does, a processor module whose class takes
only the image processor, the tokenizer and the chat template (``auto_map`` in
``processor_config.json``): ``AutoProcessor.from_pretrained(path, trust_remote_code=True)`` (TRL:
``SFTConfig(trust_remote_code=True)``) returns a full vision-language processor on machines without
torchvision. The module imports only transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

from vlmforge_hf.processor import PROCESSOR_FOR_MODEL_TYPE

REMOTE_MODULE = "processing_image_only"
# model_type -> the stock video processor a real checkpoint of that family names
VIDEO_PROCESSOR_FOR_MODEL_TYPE = {
    "qwen2_vl": "Qwen2VLVideoProcessor",
    "qwen2_5_vl": "Qwen2VLVideoProcessor",
    "qwen3_vl": "Qwen3VLVideoProcessor",
}

_MODULE_TEXT = '''"""{class_name} without its video processor (no torchvision needed); written by
`vlmforge models tiny`. Load with AutoProcessor.from_pretrained(path, trust_remote_code=True)."""

from {module} import {class_name}


class ImageOnly{class_name}({class_name}):
    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)
'''


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def remote_module_text(model_type: str) -> str:
    """The source of the image-only processor module for ``model_type``."""
    module, class_name = PROCESSOR_FOR_MODEL_TYPE[model_type]
    return _MODULE_TEXT.format(module=module, class_name=class_name)


def write_auto_files(folder: Path, model_type: str) -> None:
    """Rewrite ``processor_config.json`` in ``folder`` the way a real checkpoint names its
    processor (stock processor class, a video processor entry) plus the ``auto_map`` to the
    image-only module, and write that module."""
    _, class_name = PROCESSOR_FOR_MODEL_TYPE[model_type]
    path = folder / "processor_config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    image = config.get("image_processor") or _read(folder / "preprocessor_config.json")
    config["processor_class"] = class_name
    config["auto_map"] = {"AutoProcessor": f"{REMOTE_MODULE}.ImageOnly{class_name}"}
    config["video_processor"] = {
        "video_processor_type": VIDEO_PROCESSOR_FOR_MODEL_TYPE[model_type],
        "patch_size": image.get("patch_size"),
        "merge_size": image.get("merge_size"),
        "temporal_patch_size": image.get("temporal_patch_size"),
        "size": image.get("size"),
    }
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / f"{REMOTE_MODULE}.py").write_text(remote_module_text(model_type), encoding="utf-8")
