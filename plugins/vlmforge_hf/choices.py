"""The valid decisions of an environment as the model would write them, and choosing one.

A :class:`ChoiceSet` holds every candidate decision (:func:`vlmforge.decisions.enumerate_decisions`)
with its completion text (the chat template's rendering of the assistant turn that makes the
call, exactly as training renders targets) and its token ids. The ``score`` decoding ranks them;
:func:`sample` picks one from their log-likelihoods.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmforge.decisions import Candidate, enumerate_decisions
from vlmforge_hf.rendering import render_completion
from vlmforge_hf.scoring import CandidateTokens, completion_ids


def assistant_turn(candidate: Candidate) -> dict[str, Any]:
    """The chat-template message for a candidate: the tool call only, no text."""
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": candidate.tool, "arguments": candidate.arguments},
            }
        ],
    }


@dataclass(frozen=True)
class ChoiceSet:
    """Candidates with their completion texts and token ids, in one order."""

    candidates: tuple[Candidate, ...]
    completions: tuple[str, ...]  # the template's assistant turn, verbatim
    tokens: CandidateTokens

    def reply_text(self, tokenizer: Any, index: int) -> str:
        """What the model "says" for candidate ``index``: its tokens up to the end of turn,
        decoded the way generated text is (special tokens removed)."""
        return str(tokenizer.decode(list(self.tokens.ids[index]), skip_special_tokens=True))


def build_choices(
    processor: Any,
    prompt: list[dict[str, Any]],
    env_tools: list[dict[str, Any]],
    *,
    template_tools: Any,
    only: Sequence[str] | None,
    max_actions: int,
) -> ChoiceSet:
    """Every decision the tools allow (``only`` these tools), rendered after ``prompt``."""
    tools = env_tools
    if only is not None:
        names = {t.get("function", {}).get("name") for t in env_tools}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ValueError(
                f"`tools` names {', '.join(unknown)}, which the environment does not offer "
                f"(it offers {', '.join(sorted(str(n) for n in names))})"
            )
        tools = [t for t in env_tools if t.get("function", {}).get("name") in only]
    candidates = enumerate_decisions(tools, max_actions=max_actions)
    texts = tuple(
        render_completion(processor, prompt, assistant_turn(c), template_tools) for c in candidates
    )
    ids = CandidateTokens(tuple(completion_ids(processor.tokenizer, t) for t in texts))
    return ChoiceSet(tuple(candidates), texts, ids)


def sample(
    scores: Sequence[float], *, temperature: float, top_p: float, rng: random.Random
) -> tuple[int, float]:
    """(index of the chosen candidate, log-probability it was chosen with): the best at
    temperature 0 (probability 1), else a draw from ``softmax(scores / temperature)`` restricted
    to the top-``top_p`` mass and renormalised."""
    if temperature <= 0:
        return max(range(len(scores)), key=lambda i: scores[i]), 0.0
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    order = sorted(range(len(scores)), key=lambda i: -weights[i])
    kept, mass = [], 0.0
    for i in order:
        kept.append(i)
        mass += weights[i] / total
        if mass >= top_p:
            break
    kept_total = sum(weights[i] for i in kept)
    u = rng.random() * kept_total
    chosen = kept[-1]
    for i in kept:
        u -= weights[i]
        if u <= 0:
            chosen = i
            break
    return chosen, math.log(weights[chosen] / kept_total)


def decision_rng(seed: int, episode_seed: int, decision: int) -> random.Random:
    """The random stream of one decision: the same for the same (seed, episode, decision),
    whatever else was batched with it."""
    return random.Random(f"vlmforge-hf:{seed}:{episode_seed}:{decision}")
