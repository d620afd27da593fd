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
    group: Sequence[ScoredEpisode], credit: str, gamma: float, baseline: str = "group"
) -> list[list[float]]:
    """Per episode of one group (same seed), the advantage of each of its decisions.

    ``episode``: the episode's return normalised over the group, for every decision.
    ``return_to_go``: each decision's discounted return-to-go, less a baseline, divided by the
    standard deviation of those differences over all of the group's decisions. ``baseline =
    "group"``: the mean over all of the group's decisions; ``"step"``: the mean over the
    group's episodes at the same decision index (the episodes still playing then), so a
    decision is compared with the others' decisions at the same point of the same map; a
    decision no other episode reached has nothing to be compared with (advantage 0).
    """
    if credit == "episode":
        advantages = normalise([e.total for e in group])
        return [[a] * len(e.rewards) for a, e in zip(advantages, group, strict=True)]
    to_go = [returns_to_go(e.rewards, gamma) for e in group]
    if baseline == "group":
        flat = normalise([g for episode in to_go for g in episode])
    else:
        means = _step_means(to_go)  # one per index, as long as the longest episode
        flat = _scaled([g - means[t] for episode in to_go for t, g in enumerate(episode)])
    out, i = [], 0
    for episode in to_go:
        out.append(flat[i : i + len(episode)])
        i += len(episode)
    return out


def _step_means(to_go: Sequence[Sequence[float]]) -> list[float]:
    """Mean over the episodes at each decision index; a lone episode is its own mean."""
    longest = max((len(e) for e in to_go), default=0)
    means = []
    for t in range(longest):
        values = [e[t] for e in to_go if len(e) > t]
        means.append(statistics.fmean(values))
    return means


def _scaled(residuals: Sequence[float]) -> list[float]:
    """``residuals`` divided by their root mean square; all zeros when they are all ~0."""
    if not residuals:
        return []
    rms = math.sqrt(statistics.fmean(r * r for r in residuals))
    if rms < 1e-8:
        return [0.0 for _ in residuals]
    return [r / rms for r in residuals]


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
