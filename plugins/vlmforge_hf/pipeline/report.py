"""Held-out comparisons: several runs on the same seeds, per-row metrics, paired differences.

Everything is computed from the trace store. A row is one run (e.g. ``random``, ``teacher``,
``base``, ``sft``) over the held-out seeds; a comparison is a paired difference over the seeds
both runs finished (the same world for both), with a 95% confidence interval from Student's t.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmforge import metrics
from vlmforge.components import TraceStore
from vlmforge.summary import FINISHED
from vlmforge.trace import Run

METRICS = ("unique_achievements", "reward")
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def t_critical_95(df: int) -> float:
    """The two-sided 95% critical value of Student's t with ``df`` degrees of freedom (a table
    up to 10, then the Cornish-Fisher expansion around the normal quantile: within 0.001)."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    if df <= len(_T95):
        return _T95[df - 1]
    z = 1.959963984540054
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


@dataclass
class RowEpisodes:
    """One row's finished episodes by seed."""

    name: str
    run: Run
    unique: dict[int, int]
    reward: dict[int, float]
    achievements: dict[int, list[str]]
    decisions: int
    invalid: int

    def values(self, metric: str) -> dict[int, float]:
        return dict(self.unique) if metric == "unique_achievements" else dict(self.reward)


def row_episodes(store: TraceStore, name: str, run: Run) -> RowEpisodes:
    """The finished episodes of ``run`` (one per seed: the last finished one if repeated)."""
    unique: dict[int, int] = {}
    reward: dict[int, float] = {}
    achievements: dict[int, list[str]] = {}
    decisions = invalid = 0
    for ep in store.episodes([run.id]):
        if ep.status.value not in FINISHED:
            continue
        unique[ep.seed] = ep.unique_achievements
        reward[ep.seed] = ep.total_reward
        achievements[ep.seed] = list(ep.achievements)
        decisions += ep.steps
        invalid += ep.invalid_decisions
    return RowEpisodes(name, run, unique, reward, achievements, decisions, invalid)


def row_summary(row: RowEpisodes) -> dict[str, Any]:
    """The report's numbers for one row."""
    names = list(row.run.achievements) or sorted({a for a in _flat(row.achievements)})
    unique = list(row.unique.values())
    mean, sem = metrics.mean_and_sem([float(u) for u in unique])
    reward, reward_sem = metrics.mean_and_sem(list(row.reward.values()))
    rates = metrics.success_rates(row.achievements.values(), names)
    return {
        "name": row.name,
        "run": row.run.name,
        "policy": row.run.policy_name,
        "model": row.run.model,
        "episodes": len(unique),
        "unique_achievements_mean": mean,
        "unique_achievements_sem": sem,
        "crafter_score_pct": metrics.crafter_score(rates),
        "reward_mean": reward,
        "reward_sem": reward_sem,
        "invalid_decision_rate": row.invalid / row.decisions if row.decisions else 0.0,
        "success_rates_pct": rates,
    }


def _flat(groups: Any) -> list[str]:
    return [a for group in groups.values() for a in group]


def paired_difference(a: RowEpisodes, b: RowEpisodes, metric: str) -> dict[str, Any]:
    """``a - b`` on the seeds both finished: mean, standard error and 95% interval."""
    av, bv = a.values(metric), b.values(metric)
    seeds = sorted(set(av) & set(bv))
    diffs = [av[s] - bv[s] for s in seeds]
    out: dict[str, Any] = {"a": a.name, "b": b.name, "metric": metric, "seeds": len(seeds)}
    if len(diffs) < 2:
        return out | {"difference": None, "sem": None, "ci95": None, "excludes_zero": False}
    mean = statistics.fmean(diffs)
    sem = statistics.stdev(diffs) / math.sqrt(len(diffs))
    half = t_critical_95(len(diffs) - 1) * sem
    low, high = mean - half, mean + half
    return out | {
        "difference": mean,
        "sem": sem,
        "ci95": [low, high],
        "excludes_zero": low > 0 or high < 0,
    }


def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    """``a[key] / b[key]`` (None when b's value is 0)."""
    return a[key] / b[key] if b[key] else None


def heldout_report(
    store: TraceStore,
    rows: Sequence[tuple[str, Run]],
    *,
    seeds: Sequence[int],
    comparisons: Sequence[tuple[str, str, str]] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of ``rows`` (name, run) on ``seeds``; ``comparisons`` are (a, b, metric)
    paired differences to compute, e.g. ``("sft", "random", "unique_achievements")``."""
    episodes = {name: row_episodes(store, name, run) for name, run in rows}
    summaries = {name: row_summary(ep) for name, ep in episodes.items()}
    compared = []
    for a, b, metric in comparisons:
        if a in episodes and b in episodes:
            item = paired_difference(episodes[a], episodes[b], metric)
            key = "unique_achievements_mean" if metric == "unique_achievements" else "reward_mean"
            item["ratio"] = ratio(summaries[a], summaries[b], key)
            item["crafter_score_ratio"] = ratio(summaries[a], summaries[b], "crafter_score_pct")
            compared.append(item)
    return {
        "version": 1,
        "heldout_seeds": list(seeds),
        "rows": list(summaries.values()),
        "comparisons": compared,
        **(extra or {}),
    }
