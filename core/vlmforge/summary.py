"""Run summaries: the numbers ``vlmforge eval`` prints and writes with ``--json-summary``.

Everything is computed from the trace store (so a summary always matches the database, and a
resumed run's summary covers all its episodes). Metrics are over the run's *finished* episodes
(``done`` and ``failed``: a policy failure is an outcome of the evaluation); ``interrupted`` and
``running`` episodes are counted but excluded.

The numbers here mean the same for every environment; an environment's own numbers (Crafter's
score, BALROG progression) come from its plugin's ``summary_metrics`` hook
(:func:`env_metrics`): each is a key of the summary and a row under ``env_metrics``.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from vlmforge import metrics
from vlmforge.components import EpisodeQuery, TraceStore
from vlmforge.errors import VlmforgeError
from vlmforge.metrics import SummaryMetric
from vlmforge.pricing import ModelPrice, estimate_cost
from vlmforge.seeds import format_seeds
from vlmforge.trace import Episode, EpisodeStatus, Run

FINISHED = (EpisodeStatus.done.value, EpisodeStatus.failed.value)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(
    store: TraceStore,
    run: Run,
    *,
    prices: Mapping[str, ModelPrice],
    wall_time_s: float | None = None,
) -> dict[str, Any]:
    """The summary of ``run`` as a JSON-able dict (see docs/eval.md for each key)."""
    all_episodes = list(store.episodes([run.id]))
    by_status = {s.value: 0 for s in EpisodeStatus}
    for e in all_episodes:
        by_status[e.status.value] += 1
    finished = [e for e in all_episodes if e.status.value in FINISHED]
    names = list(run.achievements) or sorted({a for e in finished for a in e.achievements})
    policy_latencies: list[float] = []
    env_latencies: list[float] = []
    for m in store.step_metrics(EpisodeQuery(run_ids=[run.id], statuses=FINISHED)):
        policy_latencies.append(m.policy_latency_s)
        env_latencies.append(m.env_latency_s)
    summary = _numbers(run, finished, by_status, names, policy_latencies, env_latencies, prices)
    summary |= {
        "wall_time_s": wall_time_s,
        "steps_per_s": (sum(e.env_steps for e in finished) / wall_time_s if wall_time_s else None),
    }
    return with_env_metrics(summary, env_metrics(run, finished))


def env_metrics(run: Run, finished: Sequence[Episode]) -> list[tuple[str, SummaryMetric]]:
    """``(plugin, metric)`` for each metric the plugins' ``summary_metrics`` hooks return for
    ``run``, each plugin's hook called through pluggy on its own (to name it)."""
    from vlmforge.plugins import get_host

    pm = get_host().pm
    found: list[tuple[str, SummaryMetric]] = []
    for impl in pm.hook.summary_metrics.get_hookimpls():
        others = [p for p in pm.get_plugins() if p is not impl.plugin]
        caller = pm.subset_hook_caller("summary_metrics", remove_plugins=others)
        for result in caller(run=run, episodes=list(finished)):
            found.extend((impl.plugin_name, metric) for metric in result or [])
    return found


def with_env_metrics(
    summary: dict[str, Any], metrics_found: Sequence[tuple[str, SummaryMetric]]
) -> dict[str, Any]:
    """``summary`` plus each metric's keys and an ``env_metrics`` list (label, key, text)."""
    owner: dict[str, str] = {key: "vlmforge" for key in summary}
    rows: list[dict[str, Any]] = []
    for plugin, metric in metrics_found:
        for key, value in {metric.key: metric.value, **metric.extra}.items():
            if key in owner or key == "env_metrics":
                raise VlmforgeError(
                    f"summary key '{key}' is returned by plugin '{plugin}' and also by "
                    f"'{owner.get(key, 'vlmforge')}': one of them must rename it "
                    f"(summary_metrics hook)."
                )
            owner[key] = plugin
            summary[key] = value
        rows.append({"key": metric.key, "label": metric.label, "text": metric.text})
    summary["env_metrics"] = rows
    return summary


def _numbers(
    run: Run,
    finished: list[Episode],
    by_status: dict[str, int],
    names: list[str],
    policy_latencies: list[float],
    env_latencies: list[float],
    prices: Mapping[str, ModelPrice],
) -> dict[str, Any]:
    unique = [e.unique_achievements for e in finished]
    rates = metrics.success_rates([e.achievements for e in finished], names)
    reward, reward_sem = metrics.mean_and_sem([e.total_reward for e in finished])
    decisions = sum(e.steps for e in finished)
    invalid = sum(e.invalid_decisions for e in finished)
    prompt_tokens = _total([e.usage.prompt_tokens for e in finished])
    completion_tokens = _total([e.usage.completion_tokens for e in finished])
    cost = estimate_cost(run.model, prompt_tokens, completion_tokens, prices)
    return {
        "run_id": run.id,
        "run_name": run.name,
        "env": run.env_name,
        "policy": run.policy_name,
        "model": run.model,
        "seeds": format_seeds(sorted(e.seed for e in finished)),
        "episodes": len(finished),
        "episodes_by_status": by_status,
        "steps": sum(e.env_steps for e in finished),
        "decisions": decisions,
        "tool_calls": sum(e.tool_calls for e in finished),
        "unique_achievements_mean": statistics.fmean(unique) if unique else 0.0,
        "unique_achievements_median": statistics.median(unique) if unique else 0.0,
        "success_rates_pct": rates,
        "reward_mean": reward,
        "reward_sem": reward_sem,
        "invalid_decisions": invalid,
        "invalid_decision_rate": invalid / decisions if decisions else 0.0,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost,
        "policy_latency_p50_s": percentile(policy_latencies, 50),
        "policy_latency_p95_s": percentile(policy_latencies, 95),
        "env_latency_p50_s": percentile(env_latencies, 50),
        "env_latency_p95_s": percentile(env_latencies, 95),
    }


def _total(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else (0 if not values else None)
