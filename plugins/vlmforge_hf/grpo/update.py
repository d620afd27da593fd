"""The policy update: the decisions of an iteration as samples, and the clipped GRPO loss.

The policy of ``decoding = "score"`` is exact and small: ``pi(a | s) = softmax(score(a) /
temperature)`` over the K valid decisions, where ``score`` is the model's log-likelihood of the
decision's tokens. So the loss needs no token-level approximation:

    ratio  = pi_new(a) / pi_old(a)          pi_old: the probability the rollout drew a with
    loss   = -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) + beta * KL(pi_new || pi_ref)

with ``KL`` the exact divergence over the K decisions from the starting policy ``pi_ref`` (the
model with the RL adapter switched off). Only the decision tokens carry the loss: prompt and
image tokens are context of every candidate's likelihood, never a target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmforge.trace import Step
from vlmforge_hf.choices import ChoiceSet
from vlmforge_hf.loader import LoadedModel
from vlmforge_hf.scoring import candidate_logprobs


@dataclass
class RecordedChoice:
    """One recorded decision that can be learned from (not rendered yet)."""

    step: Step
    index: int  # the chosen candidate
    old_logprob: float  # log pi_old(chosen): recorded by the rollout (LMCall.decision_logprob)
    advantage: float


@dataclass
class Sample:
    """One decision to learn from."""

    text: str  # the prompt as the chat template rendered it at rollout time
    images: list[Any]  # its PIL images
    index: int  # the chosen candidate
    old_logprob: float  # log pi_old(chosen): recorded by the rollout (LMCall.decision_logprob)
    advantage: float


def candidate_index(choices: ChoiceSet) -> dict[tuple[str, str], int]:
    """(tool name, canonical JSON arguments) -> candidate index."""
    return {
        (c.tool, json.dumps(c.arguments, sort_keys=True)): i
        for i, c in enumerate(choices.candidates)
    }


def chosen_index(step: Step, index: dict[tuple[str, str], int]) -> int | None:
    """The candidate a recorded step executed, or None (no call, or not a candidate)."""
    if len(step.tool_calls) != 1:
        return None
    call = step.tool_calls[0].function
    try:
        args = json.loads(call.arguments)
    except json.JSONDecodeError:
        return None
    return index.get((call.name, json.dumps(args, sort_keys=True)))


def policy_logprobs(
    loaded: LoadedModel, samples: Sequence[Sample], choices: ChoiceSet, temperature: float
) -> Any:
    """``[sample, candidate]`` log pi: log-softmax of the candidates' scores / temperature
    (differentiable under gradients)."""
    import torch

    scores, _ = candidate_logprobs(
        loaded,
        [s.text for s in samples],
        [s.images for s in samples] if samples[0].images else None,
        choices.tokens,
    )
    return torch.log_softmax(scores / temperature, dim=-1)


@dataclass
class LossParts:
    loss: Any  # the tensor to backpropagate
    policy: float
    kl: float | None  # KL(policy || starting policy), when a reference was given
    clipped: float  # fraction of samples whose ratio was clipped
    ratio: float  # mean ratio
    approx_kl_old: float  # mean of log pi_old - log pi_new on the chosen decisions


def grpo_loss(
    logp: Any, ref_logp: Any | None, samples: Sequence[Sample], *, clip: float, kl_coef: float
) -> LossParts:
    """The clipped surrogate plus ``kl_coef`` x KL, averaged over the samples.

    ``logp`` / ``ref_logp``: ``[sample, candidate]`` log-probabilities of the policy being
    trained and of the starting policy (None: no KL term).
    """
    import torch

    device = logp.device
    chosen = torch.tensor([s.index for s in samples], device=device)
    old = torch.tensor([s.old_logprob for s in samples], device=device, dtype=logp.dtype)
    adv = torch.tensor([s.advantage for s in samples], device=device, dtype=logp.dtype)
    new = logp.gather(1, chosen.view(-1, 1)).squeeze(1)
    ratio = torch.exp(new - old)
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv)
    loss = -surrogate.mean()
    kl_value = None
    if ref_logp is not None:
        kl = (logp.exp() * (logp - ref_logp.detach())).sum(dim=1)
        loss = loss + kl_coef * kl.mean()
        kl_value = float(kl.mean().detach())
    clipped = ((ratio < 1 - clip) | (ratio > 1 + clip)).float().mean()
    return LossParts(
        loss=loss,
        policy=float(-surrogate.mean().detach()),
        kl=kl_value,
        clipped=float(clipped),
        ratio=float(ratio.mean().detach()),
        approx_kl_old=float((old - new).mean().detach()),
    )
