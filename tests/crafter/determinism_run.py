"""Run by test_determinism in a subprocess: plays seeded episodes and prints one hash per step.

Usage: python determinism_run.py MIN_STEPS. Prints JSON: per primitive-step-bearing decision,
the frame sha256, the reward (repr) and the new achievements; plus the total step count.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys

from vlmforge import plugins
from vlmforge.trace import FunctionCall, ToolCall


def main(min_steps: int) -> None:
    env = plugins.get_registry().create("environment", "crafter", {})
    names = env.spec().action_names
    rng = random.Random(1234)
    records, steps, seed = [], 0, 0
    while steps < min_steps:
        episode = env.start(seed)
        obs = episode.reset()
        records.append(["reset", seed, obs.images[0].sha256])
        done = False
        while not done and steps < min_steps:
            actions = [rng.choice([*names[:6], "do", "do"]) for _ in range(rng.randint(1, 8))]
            arguments = json.dumps({"actions": actions})
            out = episode.step(
                [ToolCall(id="c", function=FunctionCall(name="interact_many", arguments=arguments))]
            )
            steps += len(out.actions)
            gt = out.observation.ground_truth
            records.append(
                [
                    out.observation.images[-1].sha256,
                    repr(out.reward),
                    out.achievements,
                    gt["position"],
                    out.termination,
                ]
            )
            done = out.done
        seed += 1
    digest = hashlib.sha256(json.dumps(records).encode()).hexdigest()
    print(json.dumps({"steps": steps, "episodes": seed, "digest": digest, "records": records}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
