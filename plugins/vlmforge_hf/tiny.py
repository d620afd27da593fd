"""``vlmforge models tiny``: a tiny random-weight Qwen-VL model built entirely offline.

The model has real Qwen-VL architecture (vision tower, merger, M-RoPE language model) at a toy
size (~350k parameters), a byte-level BPE tokenizer trained here with the Qwen special tokens,
a chat template with tool calling, and an image-only processor (no torchvision needed). It is
what tests, CI and the offline demo train and evaluate; ``from_pretrained(path)`` loads it
exactly like a real checkpoint, and ``AutoProcessor.from_pretrained(path, trust_remote_code=True)``
returns a full processor without torchvision (``processor_files.py``). The chat template marks
the assistant's turns with ``{% generation %}`` (TRL's ``assistant_only_loss``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError
from vlmforge.textfile import read_utf8
from vlmforge_hf.model_out import check_model_out, staged_folder
from vlmforge_hf.model_path import go_offline

FAMILIES = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")
MAX_TOKEN_CHARS = 256  # longest token the tiny tokenizers learn
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Text the tokenizer learns merges from: the chat template's fixed parts, tool calls and
# the words a Crafter observation uses. The merges only matter for sequence length.
_CORPUS = [
    "You are an agent playing Crafter. Call the tool with the actions to take next.",
    "# Tools\n\nYou may call one or more functions to assist with the user query.",
    "You are provided with function signatures within <tools></tools> XML tags:",
    '<tool_call>\n{"name": "interact_many", "arguments": {"actions": ["move_left", "do"]}}\n'
    "</tool_call>",
    '{"type": "function", "function": {"name": "interact", "description": "Take one action", '
    '"parameters": {"type": "object", "properties": {"action": {"type": "string", "enum": '
    '["noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep"]}}, '
    '"required": ["action"]}}}',
    "noop move_left move_right move_up move_down do sleep place_stone place_table "
    "place_furnace place_plant make_wood_pickaxe make_stone_pickaxe make_iron_pickaxe "
    "make_wood_sword make_stone_sword make_iron_sword",
    "health food drink energy sapling wood stone coal iron diamond wood_pickaxe "
    "stone_pickaxe iron_pickaxe wood_sword stone_sword iron_sword",
    "grass sand tree water lava table furnace path zombie skeleton cow plant arrow",
    "Step 12. Inventory: wood 2, sapling 1. Facing: tree. Nearby: water 3 left, cow 2 up.",
    "collect_wood collect_stone collect_coal collect_iron collect_diamond eat_cow "
    "collect_drink wake_up defeat_zombie defeat_skeleton eat_plant collect_sapling",
    "The previous action was invalid: unknown action. Achievements unlocked: none yet.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 north south east west",
]


@dataclass(frozen=True)
class TinyFamily:
    """How to build one family's config, model and image processor at toy size."""

    name: str
    model_type: str
    patch_size: int


TINY_FAMILIES = {
    "qwen2-vl": TinyFamily("qwen2-vl", "qwen2_vl", 14),
    "qwen2.5-vl": TinyFamily("qwen2.5-vl", "qwen2_5_vl", 14),
    "qwen3-vl": TinyFamily("qwen3-vl", "qwen3_vl", 16),
}


def chat_template() -> str:
    """The Qwen-VL chat template with tool calling that tiny models ship."""
    return resources.files(__package__).joinpath("chat_template.jinja").read_text("utf-8")


def corpus_texts(paths: list[str | Path]) -> list[str]:
    """Training text for the tokenizer from files: every string in JSONL rows (data URLs, image
    paths and each row's ``metadata`` left out), or the lines of a plain text file.

    ``metadata`` holds bookkeeping a model never reads (random run and episode ids, the trace
    database's path); learning merges from it made two identical pipeline runs train different
    tokenizers, and so different models.
    """
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if not value.startswith("data:") and not value.endswith(".png"):
                texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in paths:
        p = Path(path)
        lines = read_utf8(p, what="tokenizer corpus").splitlines()
        for line in lines:
            if p.suffix == ".jsonl" and line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    texts.append(line)
                    continue
                walk(
                    {k: v for k, v in row.items() if k != "metadata"}
                    if isinstance(row, dict)
                    else row
                )
            elif line.strip():
                texts.append(line)
    return texts


def train_tokenizer(vocab_size: int = 2048, extra_texts: list[str] | None = None) -> Any:
    """A byte-level BPE tokenizer with the Qwen special tokens, trained offline in < 1 s.

    ``extra_texts`` (e.g. an exported dataset, see :func:`corpus_texts`) teach it the merges of
    the text it will see, which keeps sequences (and CPU attention cost) short.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # no regex split: merges may span words, so repeated prompt text becomes few tokens
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        # Grammar engines index tokens in a trie of bounded depth (llguidance: < 1,024 bytes);
        # a whole system prompt as one token would not fit.
        max_token_length=MAX_TOKEN_CHARS,
    )
    tok.train_from_iterator([*_CORPUS * 4, *(extra_texts or [])], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_bos_token": "<|vision_start|>",
            "vision_eos_token": "<|vision_end|>",
        },
    )


def _config(family: TinyFamily, tok: Any) -> Any:
    ids = {
        name: tok.convert_tokens_to_ids(token)
        for name, token in [
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        ]
    }
    text = dict(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]},
    )
    vision: dict[str, Any]
    if family.model_type == "qwen2_vl":
        from transformers import Qwen2VLConfig

        vision = dict(depth=2, embed_dim=64, hidden_size=64, num_heads=4, mlp_ratio=2)
        vision.update(patch_size=family.patch_size, spatial_merge_size=2)
        return Qwen2VLConfig(text_config=text, vision_config=vision, **ids)
    if family.model_type == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        vision = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=4)
        vision.update(out_hidden_size=64, patch_size=family.patch_size, spatial_merge_size=2)
        vision.update(window_size=56, fullatt_block_indexes=[1])
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
    from transformers import Qwen3VLConfig

    text["head_dim"] = 16
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 1e4,
        "mrope_section": [2, 3, 3],
        "mrope_interleaved": True,
    }
    vision = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=4)
    vision.update(out_hidden_size=64, patch_size=family.patch_size, spatial_merge_size=2)
    vision.update(num_position_embeddings=64, deepstack_visual_indexes=[1])
    return Qwen3VLConfig(text_config=text, vision_config=vision, **ids)


def build_tiny(
    family: str,
    out: str | Path,
    *,
    seed: int = 0,
    vocab_size: int = 2048,
    corpus: list[str | Path] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build and save a tiny model of ``family`` in ``out``; returns a summary.

    ``corpus``: files whose text the tokenizer is trained on besides the built-in text. A
    non-empty ``out`` is refused unless ``overwrite`` (then a model folder is replaced whole);
    the model is written to a staging folder and moved into place when complete.
    """
    if family not in TINY_FAMILIES:
        raise ConfigError(f"unknown model family '{family}'. Known: {', '.join(FAMILIES)}.")
    out = Path(out)
    check_model_out(out, overwrite)
    go_offline()  # built from nothing: no request to the hub
    import torch
    from transformers import AutoModelForImageTextToText
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from vlmforge_hf.processor import image_only_processor_class, quiet_transformers

    quiet_transformers()
    spec = TINY_FAMILIES[family]
    tok = train_tokenizer(vocab_size, corpus_texts(list(corpus or [])))
    config = _config(spec, tok)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    unit = spec.patch_size * 2  # pixels per image token side (2x2 patch merge)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=spec.patch_size,
        merge_size=2,
        min_pixels=unit * unit * 4,
        max_pixels=unit * unit * 256,
    )
    processor = image_only_processor_class(spec.model_type)(
        image_processor=image_processor, tokenizer=tok, chat_template=chat_template()
    )
    params = sum(p.numel() for p in model.parameters())
    summary = {
        "family": family,
        "model_type": spec.model_type,
        "path": str(out),
        "parameters": params,
        "vocab_size": len(tok),
        "seed": seed,
        "tokenizer_corpus": [str(p) for p in corpus or []],
    }
    with staged_folder(out) as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)  # with the files AutoProcessor needs
        (staging / "vlmforge_tiny.json").write_text(
            json.dumps(summary, indent=2) + "\n", encoding="utf-8"
        )
    return summary
