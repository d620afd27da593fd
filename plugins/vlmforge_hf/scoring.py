"""``decoding = "score"``: the log-likelihood of every valid decision, batched, with one prefill.

Each candidate decision (see :mod:`vlmforge.decisions`) is rendered by the model's chat template
as the assistant turn it would be trained on (``<tool_call>...</tool_call><|im_end|>`` for Qwen)
and tokenized on its own, exactly as TRL tokenizes a completion after its prompt. Its score is
``sum(log p(token | prompt, earlier tokens))`` over its tokens up to and including the
end-of-turn token.

Cost: one forward pass over the B prompts plus the tokens every candidate shares (with the KV
cache kept), then one forward pass over the B x K candidate remainders against that cache,
repeated K times in the batch dimension. Logits are computed only for candidate tokens.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmforge_hf.loader import LoadedModel


@dataclass(frozen=True)
class CandidateTokens:
    """The token ids of every candidate completion (the same for every prompt)."""

    ids: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if not self.ids or any(not ids for ids in self.ids):
            raise ValueError("every candidate needs at least one token")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("two candidates have the same tokens")

    def shared_prefix(self) -> int:
        """Tokens every candidate starts with, leaving at least one token in each."""
        shortest = min(len(ids) for ids in self.ids)
        n = 0
        first = self.ids[0]
        while n < shortest - 1 and all(ids[n] == first[n] for ids in self.ids):
            n += 1
        return n


def completion_ids(tokenizer: Any, text: str) -> tuple[int, ...]:
    """``text`` tokenized as TRL tokenizes a completion, cut after the end-of-turn token."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    eos = tokenizer.eos_token_id
    if eos in ids:
        ids = ids[: ids.index(eos) + 1]
    return tuple(ids)


def score_batch(
    loaded: LoadedModel,
    texts: Sequence[str],
    images: Sequence[Sequence[Any]] | None,
    candidates: CandidateTokens,
) -> tuple[list[list[float]], list[int]]:
    """``[prompt][candidate]`` log-likelihoods of every candidate after every prompt, and each
    prompt's length in tokens (image tokens included).

    ``images``: the PIL images of each prompt (None or all-empty for text-only prompts).
    """
    import torch

    with torch.inference_mode():
        scores, lengths = candidate_logprobs(loaded, texts, images, candidates)
    return scores.tolist(), lengths


def candidate_logprobs(
    loaded: LoadedModel,
    texts: Sequence[str],
    images: Sequence[Sequence[Any]] | None,
    candidates: CandidateTokens,
) -> tuple[Any, list[int]]:
    """:func:`score_batch` as a ``[prompt, candidate]`` tensor, differentiable when called
    with gradients enabled (the ``grpo`` trainer's policy log-probabilities)."""
    import torch

    processor, model = loaded.processor, loaded.model
    device = loaded.device
    k = len(candidates.ids)
    shared = candidates.shared_prefix()
    prefix = list(candidates.ids[0][:shared])
    rests = [list(ids[shared:]) for ids in candidates.ids]
    has_images = bool(images) and any(images)  # type: ignore[arg-type]
    inputs = processor(
        text=list(texts),
        images=[list(i) for i in images] if has_images and images is not None else None,
        padding=True,
        padding_side="left",
        return_tensors="pt",
        add_special_tokens=False,
    )
    b = inputs["input_ids"].shape[0]
    prompt_tokens = [int(n) for n in inputs["attention_mask"].sum(dim=1).tolist()]
    if prefix:
        extra = torch.tensor([prefix] * b, dtype=inputs["input_ids"].dtype)
        inputs["input_ids"] = torch.cat([inputs["input_ids"], extra], dim=1)
        inputs["attention_mask"] = torch.cat(
            [inputs["attention_mask"], torch.ones_like(extra)], dim=1
        )
        if "mm_token_type_ids" in inputs:
            inputs["mm_token_type_ids"] = torch.cat(
                [inputs["mm_token_type_ids"], torch.zeros_like(extra)], dim=1
            )
    inputs = inputs.to(device)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    core = _vl_core(model)
    core.rope_deltas = None  # set afresh by this prefill when the prompts hold images
    first = model(**inputs, use_cache=True, logits_to_keep=shared + 1)
    cache = getattr(first, "cache", None) or getattr(first, "past_key_values", None)
    head_logp = torch.log_softmax(first.logits.float(), dim=-1)  # [b, shared + 1, vocab]
    first_logp = head_logp[:, -1, :]  # predicts each candidate's first remaining token
    shared_logp = torch.zeros(b, device=device)  # the shared tokens, the same for all
    for i, token in enumerate(prefix):
        shared_logp = shared_logp + head_logp[:, i, token]
    deltas = core.rope_deltas  # [b, 1] when M-RoPE positions were computed, else None
    mask = inputs["attention_mask"]
    padded_len = mask.shape[1]
    real_len = mask.sum(dim=1)  # [b]

    width = max(len(r) for r in rests)
    rest_ids = torch.full((k, width), 0, dtype=torch.long)
    rest_mask = torch.zeros((k, width), dtype=mask.dtype)
    for i, r in enumerate(rests):
        rest_ids[i, : len(r)] = torch.tensor(r)
        rest_mask[i, : len(r)] = 1
    heads = torch.tensor([r[0] for r in rests], device=device)
    total = shared_logp.view(b, 1) + first_logp[:, heads]  # [b, k]
    if width > 1:
        assert cache is not None, "the model returned no KV cache (use_cache=True)"
        cache.batch_repeat_interleave(k)
        ids = rest_ids.repeat(b, 1).to(device)  # row order: prompt-major, candidate-minor
        att = torch.cat(
            [mask.repeat_interleave(k, dim=0), rest_mask.repeat(b, 1).to(device)], dim=1
        )
        steps = torch.arange(width, device=device)
        if deltas is not None:  # text positions continue after the prompt's M-RoPE ones
            start = real_len + deltas.to(device).view(-1)
        else:  # text-only prompts: positions are the padded indices
            start = torch.full((b,), padded_len, device=device)
        pos = (start.repeat_interleave(k).view(-1, 1) + steps.view(1, -1)).long()
        out = model(
            input_ids=ids,
            attention_mask=att,
            position_ids=pos.unsqueeze(0).expand(3, -1, -1),
            use_cache=False,
            **{_cache_keyword(model): cache},
        )
        logp = torch.log_softmax(out.logits[:, :-1, :].float(), dim=-1)
        targets = ids[:, 1:]
        picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # [b*k, width-1]
        picked = picked * rest_mask.repeat(b, 1)[:, 1:].to(device)
        total = total + picked.sum(dim=1).view(b, k)
    return total, prompt_tokens


def _cache_keyword(model: Any) -> str:
    """The KV-cache keyword of the model's forward: ``cache`` in newer transformers 5.x releases,
    ``past_key_values`` before."""
    net = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = inspect.signature(type(net).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _vl_core(model: Any) -> Any:
    """The Qwen-VL ``*Model`` inside a ``*ForConditionalGeneration`` (PEFT-wrapped or not)."""
    net = model.get_base_model() if hasattr(model, "get_base_model") else model
    core = getattr(net, "model", None)
    if core is None or not hasattr(core, "rope_deltas"):
        raise TypeError(
            f"{type(net).__name__} is not a Qwen-VL model; decoding = 'score' supports the "
            "Qwen2-VL, Qwen2.5-VL and Qwen3-VL families"
        )
    return core
