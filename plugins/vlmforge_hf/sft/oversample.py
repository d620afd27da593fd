"""``oversample``: repeat the rows whose target acts, so a model sees them more often.

In agent data most rows repeat a few common decisions (in Crafter's teacher data ~75% are moves
or noop) while the ones that make progress (``do`` on a tree, crafting, placing, sleeping) are
fewer and some are rare. With ``oversample = N`` and ``common_actions`` naming the common ones,
every training row whose target calls an action outside ``common_actions`` appears N times per
epoch. benchmarks/README.md ("Learning") has the held-out effect measured on the demo's data.
"""

from __future__ import annotations

from typing import Any

from vlmforge_hf.sft.data import Example


def target_actions(target: dict[str, Any]) -> list[str]:
    """The action names a target's tool calls carry: every string argument value, and every
    string in a list argument (the shape of enum-of-actions tools, see vlmforge.decisions)."""
    found: list[str] = []
    for call in target.get("tool_calls") or []:
        args = call.get("function", call).get("arguments")
        for value in (args or {}).values() if isinstance(args, dict) else ():
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
    return found


def oversampled(
    examples: list[Example], times: int, common: list[str]
) -> tuple[list[Example], dict[str, Any]]:
    """The examples with the acting ones repeated ``times`` times, and a summary."""
    if times <= 1:
        return examples, {"oversample": 1}
    keep = set(common)
    out: list[Example] = []
    repeated = 0
    for ex in examples:
        acts = any(a not in keep for a in target_actions(ex.target))
        repeated += acts
        out.extend([ex] * (times if acts else 1))
    return out, {
        "oversample": times,
        "common_actions": sorted(keep),
        "rows": len(examples),
        "rows_repeated": repeated,
        "rows_trained": len(out),
    }
