"""Accuracy per probe type of a recorded probe run, with a 95% interval and two baselines.

Everything is computed from the stored steps (each probe episode has one step): the question's
type is in the step's observation, whether the answer was exact in its ``info``. A probe whose
step failed (a policy error) or was never answered counts as asked and wrong (``failed``).

- interval: Wilson score interval at 95% (z = 1.96), sound for small n and for 0% or 100%;
- ``chance``: 1 / the type's number of choices (a uniform random answerer);
- ``majority``: the share of the most frequent exact answer among these probes (always giving
  that answer); a model has learned something about the frames only when it beats both.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from vlmforge.components import EpisodeQuery
from vlmforge.errors import VlmforgeError
from vlmforge.trace import Run
from vlmforge_crafter.probes.catalog import BY_ID, PROBE_VERSION
from vlmforge_crafter.probes.env import ENV_NAME

Z95 = 1.959963984540054


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``correct`` successes in ``n`` trials ((0, 1) when n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class TypeTally:
    """Counts of one probe type."""

    n: int = 0
    correct: int = 0
    invalid: int = 0  # no parseable answer, or one outside the answer space
    failed: int = 0  # the policy failed on it (no answer recorded)
    answers: Counter[str] = field(default_factory=Counter)  # the exact answers, for majority

    def row(self, type_id: str) -> dict[str, Any]:
        low, high = wilson(self.correct, self.n)
        kind = BY_ID.get(type_id)
        majority = self.answers.most_common(1)[0] if self.answers else None
        return {
            "type": type_id,
            "n": self.n,
            "correct": self.correct,
            "accuracy": self.correct / self.n if self.n else 0.0,
            "ci95": [low, high],
            "chance": kind.chance if kind is not None else None,
            "majority": majority[1] / sum(self.answers.values()) if majority else None,
            "majority_answer": majority[0] if majority else None,
            "answers": dict(sorted(self.answers.items())),  # the exact answers' counts
            "invalid": self.invalid,
            "failed": self.failed,
        }


def probe_report(store: Any, run: Run) -> dict[str, Any]:
    """The accuracy report of probe run ``run`` (JSON-ready; ``types`` in catalog order)."""
    if run.env_name != ENV_NAME:
        raise VlmforgeError(
            f"run '{run.name}' played '{run.env_name}', not {ENV_NAME}: it holds no probes"
        )
    tallies: dict[str, TypeTally] = defaultdict(TypeTally)
    total = TypeTally()
    for trace in store.traces(EpisodeQuery(run_ids=[run.id])):
        for step in trace.steps:
            probe = step.observation.ground_truth.get("probe") or {}
            type_id = str(probe.get("type", "?"))
            tally = tallies[type_id]
            correct = step.info.get("correct") is True
            answer = step.info.get("answer")
            for t in (tally, total):
                t.n += 1
                t.correct += int(correct)
                scored = "answer" in step.info  # the environment scored an answer
                t.failed += int(not scored)
                t.invalid += int(scored and bool(step.invalid))
                if isinstance(answer, str):
                    t.answers[answer] += 1
    order = [t for t in BY_ID if t in tallies] + sorted(set(tallies) - set(BY_ID))
    overall = total.row("all")
    overall.pop("chance")
    overall["chance"] = _mean_chance(tallies)
    for key in ("majority", "majority_answer", "answers"):
        overall.pop(key)
    return {
        "version": 1,
        "probe_version": run.env_config.get("probe_version", PROBE_VERSION),
        "probe_set": run.env_config.get("probe_set"),
        "run": run.name,
        "run_id": run.id,
        "policy": run.policy_name,
        "model": run.model,
        "observation": run.env_config.get("observation"),
        # False: the policy sent no image (a model the openai policy does not know as a vision
        # model, or use_vision = false), so these answers are not about the frames
        "policy_sees_frames": _sees_frames(run.policy_config),
        "types": [tallies[t].row(t) for t in order],
        "overall": overall,
    }


def _sees_frames(settings: dict[str, Any]) -> bool | None:
    """The policy's ``use_vision`` as resolved (``resolved.use_vision`` first), None if unsaid."""
    resolved = settings.get("resolved")
    if isinstance(resolved, dict) and isinstance(resolved.get("use_vision"), bool):
        return bool(resolved["use_vision"])
    value = settings.get("use_vision")
    return value if isinstance(value, bool) else None


def _mean_chance(tallies: dict[str, TypeTally]) -> float | None:
    """The expected accuracy of a uniform random answerer over these probes."""
    n = sum(t.n for t in tallies.values())
    if not n:
        return None
    return sum(BY_ID[k].chance * t.n for k, t in tallies.items() if k in BY_ID) / n


def beats(row: dict[str, Any], baseline: str) -> bool:
    """Whether the row's 95% interval lies wholly above its ``chance`` or ``majority``."""
    value = row.get(baseline)
    return value is not None and row["ci95"][0] > value
