"""Runs side by side on the seeds they all finished: per-achievement success rates and the
episode metrics, each as mean and standard error over those seeds."""

from __future__ import annotations

from typing import Any

from vlmforge import metrics
from vlmforge.summary import FINISHED
from vlmforge.trace import Episode, Run
from vlmforge_view.reader import TraceReader


def _finished_by_seed(episodes: list[Episode]) -> dict[int, Episode]:
    """The last finished episode of each seed (store order)."""
    out: dict[int, Episode] = {}
    for e in episodes:
        if e.status.value in FINISHED:
            out[e.seed] = e
    return out


def _mean_sem(values: list[float]) -> dict[str, float]:
    mean, sem = metrics.mean_and_sem(values)
    return {"mean": mean, "sem": sem}


def compare(reader: TraceReader, refs: list[str]) -> dict[str, Any]:
    """The comparison of the runs ``refs`` (names or ids) on their common finished seeds."""
    runs: list[Run] = [reader.run(ref) for ref in refs]
    by_run = [_finished_by_seed(reader.episodes(run.id)) for run in runs]
    common = sorted(set.intersection(*(set(b) for b in by_run))) if by_run else []
    names: list[str] = []
    for run in runs:
        names += [a for a in run.achievements if a not in names]
    for b in by_run:
        for s in common:
            names += [a for a in b[s].achievements if a not in names]
    columns = []
    for run, episodes in zip(runs, by_run, strict=True):
        chosen = [episodes[s] for s in common]
        columns.append(
            {
                "id": run.id,
                "name": run.name,
                "policy": run.policy_name,
                "model": run.model,
                "reward": _mean_sem([e.total_reward for e in chosen]),
                "unique_achievements": _mean_sem([float(e.unique_achievements) for e in chosen]),
                "steps": _mean_sem([float(e.steps) for e in chosen]),
                "invalid_decisions": _mean_sem([float(e.invalid_decisions) for e in chosen]),
                "success_pct": {
                    name: _mean_sem([100.0 * (name in e.achievements) for e in chosen])
                    for name in names
                },
            }
        )
    return {"seeds": common, "achievements": names, "runs": columns}
