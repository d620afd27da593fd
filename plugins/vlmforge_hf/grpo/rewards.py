"""Returns, group-normalised advantages and per-decision credit, from recorded episodes."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from vlmforge.trace import Episode, Step
from vlmforge_hf.grpo.config import RewardSettings

TERMS = ("achievements", "env", "survival", "step", "death")


@dataclass
class ScoredEpisode:
    """One rollout: its per-decision rewards (shaping included), their sum and each term's sum."""

    episode: Episode
    member: int  # which episode of the group (its sampling stream)
    rewards: list[float]  # one per recorded decision step
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.rewards)


def step_terms(step: Step, settings: RewardSettings) -> dict[str, float]:
    """Each reward term of one decision step, already weighted."""
    return {
        "achievements": settings.achievements * len(step.achievements),
        "env": settings.env * step.reward,
        "survival": settings.survival * len(step.actions),
        "step": settings.step,
        "death": settings.death if step.termination == "death" else 0.0,
    }


def score_episode(
    episode: Episode, steps: Sequence[Step], member: int, settings: RewardSettings
) -> ScoredEpisode:
    rewards: list[float] = []
    terms = dict.fromkeys(TERMS, 0.0)
    for step in steps:
        parts = step_terms(step, settings)
        rewards.append(sum(parts.values()))
        for name, value in parts.items():
            terms[name] += value
    return ScoredEpisode(episode, member, rewards, terms)


def normalise(values: Sequence[float]) -> list[float]:
    """``(v - mean) / std`` (population std); all zeros when the values are all equal."""
    if not values:
        return []
    mean = statistics.fmean(values)
    std = statistics.pstdev(values)
    if std < 1e-8:
        return [0.0 for _ in values]
    return [(v - mean) / std for v in values]


def returns_to_go(rewards: Sequence[float], gamma: float) -> list[float]:
    out = [0.0] * len(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def group_advantages(
    group: Sequence[ScoredEpisode], credit: str, gamma: float
) -> list[list[float]]:
    """Per episode of one group (same seed), the advantage of each of its decisions.

    ``episode``: the episode's return normalised over the group, for every decision.
    ``return_to_go``: each decision's discounted return-to-go, normalised over all decisions of
    the group's episodes (pooled mean and std).
    """
    if credit == "episode":
        advantages = normalise([e.total for e in group])
        return [[a] * len(e.rewards) for a, e in zip(advantages, group, strict=True)]
    to_go = [returns_to_go(e.rewards, gamma) for e in group]
    flat = normalise([g for episode in to_go for g in episode])
    out, i = [], 0
    for episode in to_go:
        out.append(flat[i : i + len(episode)])
        i += len(episode)
    return out


def summarise(scored: Sequence[ScoredEpisode]) -> dict[str, float]:
    """Mean/min/max episode return and unique achievements, and each term's mean."""
    totals = [e.total for e in scored]
    unique = [float(e.episode.unique_achievements) for e in scored]
    out = {
        "episodes": float(len(scored)),
        "reward_mean": statistics.fmean(totals) if totals else math.nan,
        "reward_min": min(totals) if totals else math.nan,
        "reward_max": max(totals) if totals else math.nan,
        "unique_achievements_mean": statistics.fmean(unique) if unique else math.nan,
        "unique_achievements_min": min(unique) if unique else math.nan,
        "unique_achievements_max": max(unique) if unique else math.nan,
        "env_steps_mean": statistics.fmean(e.episode.env_steps for e in scored)
        if scored
        else math.nan,
    }
    for name in TERMS:
        out[f"term_{name}_mean"] = (
            statistics.fmean(e.terms[name] for e in scored) if scored else math.nan
        )
    return out
