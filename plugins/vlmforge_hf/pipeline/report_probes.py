"""Probe runs next to the play metrics in the held-out report (docs/probes.md).

A probe run (``vlmforge probe``, tagged ``probes``) written to the held-out store is summarized
from its stored steps: each step is one question, ``info["probe_type"]`` its type and
``info["correct"]`` whether the answer was exact. Read generically, so this plugin does not
import the crafter plugin that defines the probes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from vlmforge.components import EpisodeQuery, TraceStore

PROBE_TAG = "probes"
_Z95 = 1.959963984540054


def _wilson(correct: int, n: int) -> list[float]:
    if n == 0:
        return [0.0, 1.0]
    p, z2 = correct / n, _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def probe_summaries(store: TraceStore) -> list[dict[str, Any]]:
    """One entry per probe run in ``store``: policy, model, accuracy overall and per type."""
    out = []
    for run in store.runs():
        if PROBE_TAG not in run.tags:
            continue
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for trace in store.traces(EpisodeQuery(run_ids=[run.id])):
            for step in trace.steps:
                kind = step.info.get("probe_type")
                if isinstance(kind, str):
                    counts[kind][0] += int(step.info.get("correct") is True)
                    counts[kind][1] += 1
        correct = sum(c for c, _ in counts.values())
        n = sum(k for _, k in counts.values())
        out.append(
            {
                "run": run.name,
                "policy": run.policy_name,
                "model": run.model,
                "probe_set": run.env_config.get("probe_set"),
                "n": n,
                "accuracy": correct / n if n else 0.0,
                "ci95": _wilson(correct, n),
                "types": {
                    kind: {"n": k, "accuracy": c / k, "ci95": _wilson(c, k)}
                    for kind, (c, k) in counts.items()
                },
            }
        )
    return out
