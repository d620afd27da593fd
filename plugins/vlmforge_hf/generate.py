"""Running a batch of requests: ``generate`` (free / constrained) or candidate scoring (score).

Requests are grouped by what can share one forward pass (with or without images, and the same
candidates or grammar); each group runs as one call and results come back in request order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vlmforge_hf.batcher import Request
from vlmforge_hf.choices import ChoiceSet, sample
from vlmforge_hf.loader import LoadedModel
from vlmforge_hf.scoring import score_batch


@dataclass
class Generation:
    """One completed request."""

    text: str  # the generated text, special tokens removed, verbatim otherwise
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end-of-turn token) or "length" (max_new_tokens reached)
    batch_size: int
    logprob: float | None = None  # score: the chosen candidate's log-likelihood
    candidates: int | None = None  # score: how many decisions were ranked
    choice: int | None = None  # score: the index of the chosen candidate
    decision_logprob: float | None = None  # score: log-probability the choice was drawn with
    grammar_error: str | None = None  # constrained: a token the grammar refused (a bug)


def groups(requests: list[Request]) -> list[list[int]]:
    """Indices of requests that can run together: same decode payload, images or not."""
    found: dict[tuple[int, bool], list[int]] = {}
    for i, r in enumerate(requests):
        found.setdefault((id(r.decode), bool(r.images)), []).append(i)
    return list(found.values())


def run_groups(
    requests: list[Request], run: Callable[[list[Request]], list[Generation]]
) -> list[Generation]:
    out: list[Generation | None] = [None] * len(requests)
    for group in groups(requests):
        for i, result in zip(group, run([requests[i] for i in group]), strict=True):
            out[i] = result
    return [g for g in out if g is not None]


def encode(loaded: LoadedModel, requests: list[Request]) -> Any:
    """The processor's left-padded batch for the requests' prompts and images."""
    images = [r.images for r in requests] if requests[0].images else None
    inputs = loaded.processor(
        text=[r.text for r in requests],
        images=images,
        padding=True,
        padding_side="left",
        return_tensors="pt",
        add_special_tokens=False,
    ).to(loaded.device)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(loaded.model.dtype)
    return inputs


def generate_group(
    loaded: LoadedModel,
    requests: list[Request],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    logits_processor: Callable[[int], Any] | None = None,
) -> list[Generation]:
    """One left-padded ``generate`` call; ``logits_processor(batch)`` masks the logits."""
    import torch
    from transformers import LogitsProcessorList

    tokenizer = loaded.processor.tokenizer
    inputs = encode(loaded, requests)
    sampling: dict[str, Any] = {"do_sample": False}
    if temperature > 0:
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p}
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    processor = logits_processor(len(requests)) if logits_processor else None
    if processor is not None:
        sampling["logits_processor"] = LogitsProcessorList([processor])
    with torch.inference_mode():
        output = loaded.model.generate(
            **inputs, max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=pad, **sampling
        )
    prompt_len = inputs["input_ids"].shape[1]
    prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
    errors = processor.errors() if processor is not None else [None] * len(requests)
    results = []
    for row, n_prompt, error in zip(
        output[:, prompt_len:].tolist(), prompt_tokens, errors, strict=True
    ):
        if eos in row:
            row, finish = row[: row.index(eos) + 1], "stop"
        else:
            while row and row[-1] == pad:
                row = row[:-1]
            finish = "length"
        text = tokenizer.decode(row, skip_special_tokens=True)
        results.append(
            Generation(text, int(n_prompt), len(row), finish, len(requests), grammar_error=error)
        )
    return results


def score_group(
    loaded: LoadedModel, requests: list[Request], *, temperature: float, top_p: float
) -> list[Generation]:
    """Rank every candidate of the group's :class:`ChoiceSet` and pick one per request."""
    choices: ChoiceSet = requests[0].decode
    images = [r.images for r in requests] if requests[0].images else None
    scores, prompt_tokens = score_batch(loaded, [r.text for r in requests], images, choices.tokens)
    tokenizer = loaded.processor.tokenizer
    out = []
    for req, row, n_prompt in zip(requests, scores, prompt_tokens, strict=True):
        index, chosen_logprob = sample(row, temperature=temperature, top_p=top_p, rng=req.rng)
        out.append(
            Generation(
                text=choices.reply_text(tokenizer, index),
                prompt_tokens=n_prompt,
                completion_tokens=len(choices.tokens.ids[index]),
                finish_reason="stop",
                batch_size=len(requests),
                logprob=row[index],
                candidates=len(row),
                choice=index,
                decision_logprob=chosen_logprob,
            )
        )
    return out
