"""Turning a batch of rendered prompts into generated replies with one ``generate`` call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vlmforge_hf.batcher import Request
from vlmforge_hf.loader import LoadedModel


@dataclass
class Generation:
    """One completed request."""

    text: str  # the generated text, special tokens removed, verbatim otherwise
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end-of-turn token) or "length" (max_new_tokens reached)
    batch_size: int


def generate_batch(
    loaded: LoadedModel,
    requests: list[Request],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
) -> list[Generation]:
    """Left-padded batched generation; prompts with and without images run separately."""
    with_images = [i for i, r in enumerate(requests) if r.images]
    without = [i for i, r in enumerate(requests) if not r.images]
    out: list[Generation | None] = [None] * len(requests)
    for group in (with_images, without):
        if group:
            results = _generate(
                loaded, [requests[i] for i in group], max_new_tokens, temperature, top_p, seed
            )
            for i, result in zip(group, results, strict=True):
                out[i] = result
    return [g for g in out if g is not None]


def _generate(
    loaded: LoadedModel,
    requests: list[Request],
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
) -> list[Generation]:
    import torch

    processor, tokenizer = loaded.processor, loaded.processor.tokenizer
    images = [r.images for r in requests] if requests[0].images else None
    inputs = processor(
        text=[r.text for r in requests],
        images=images,
        padding=True,
        padding_side="left",
        return_tensors="pt",
        add_special_tokens=False,
    ).to(loaded.device)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(loaded.model.dtype)
    sampling: dict[str, Any] = {"do_sample": False}
    if temperature > 0:
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p}
        torch.manual_seed(seed)
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    with torch.inference_mode():
        output = loaded.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos,
            pad_token_id=pad,
            **sampling,
        )
    prompt_len = inputs["input_ids"].shape[1]
    prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
    results = []
    for row, n_prompt in zip(output[:, prompt_len:].tolist(), prompt_tokens, strict=True):
        if eos in row:
            row, finish = row[: row.index(eos) + 1], "stop"
        else:
            while row and row[-1] == pad:
                row = row[:-1]
            finish = "length"
        text = tokenizer.decode(row, skip_special_tokens=True)
        results.append(Generation(text, int(n_prompt), len(row), finish, len(requests)))
    return results
