"""The probe set over sampled frames: deterministic from the frames, the types and the seed.

Probe ``i`` of the set is episode seed ``i`` of a probe run. Frames come in sample order and each
frame's probes in catalog order (``probes_per_frame``: a seeded choice of the types, still in
catalog order). :func:`digest` fingerprints the set (version, frames, questions, answers): the
probe run records it, so ``--resume`` refuses a set that changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vlmforge_crafter.probes.catalog import PROBE_VERSION, ProbeType, probe_type
from vlmforge_crafter.probes.frames import Frame, sample_rng


@dataclass(frozen=True)
class Probe:
    """One question about one frame, with its exact answer."""

    index: int
    frame: Frame
    type: ProbeType
    answer: str

    def record(self) -> dict[str, Any]:
        """What the probe run stores with the question (the answer is kept out of it)."""
        return {
            "version": PROBE_VERSION,
            "index": self.index,
            "type": self.type.id,
            "question": self.type.prompt(),
            "choices": list(self.type.answers),
        }


def build_probes(
    frames: Sequence[Frame], type_ids: Sequence[str], *, seed: int, per_frame: int | None = None
) -> list[Probe]:
    """The probes of ``frames``: every type of ``type_ids`` per frame, or ``per_frame`` of them."""
    types = [probe_type(t) for t in type_ids]
    probes: list[Probe] = []
    for frame in frames:
        chosen = types
        if per_frame is not None and per_frame < len(types):
            rng = sample_rng(seed, "types", frame.run_name, frame.episode_seed, frame.step)
            keep = set(rng.sample(range(len(types)), per_frame))
            chosen = [t for i, t in enumerate(types) if i in keep]
        view = frame.view()
        for kind in chosen:
            answer = kind.answer(view)
            if answer not in kind.answers:  # a catalog bug, never a guess
                raise AssertionError(f"probe {kind.id} answered {answer!r}, not in its space")
            probes.append(Probe(len(probes), frame, kind, answer))
    return probes


def digest(probes: Sequence[Probe]) -> str:
    """sha256 (first 16 hex digits) of the set: version, each frame (run name, episode seed,
    step, image) and question, each answer."""
    payload = [
        [p.frame.run_name, p.frame.episode_seed, p.frame.step, p.frame.image_sha256, p.type.id,
         p.answer]
        for p in probes
    ]  # fmt: skip
    data = json.dumps([PROBE_VERSION, payload], separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:16]
