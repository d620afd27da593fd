"""The recorded frames of a source trace store and the seeded sample of them.

A frame is one recorded step of a ``crafter`` run: its newest image (the frame the policy saw),
its text observation and its ground truth. The sample is drawn with a seeded RNG from the steps
in the order (run name, episode seed, step index), which depends on what was recorded, not on
storage ids, so the same recorded runs and seed always give the same frames. The source store
is opened read-only and closed before anything is played.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from vlmforge.components import EpisodeQuery
from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge_crafter.ground_truth import MissingFieldsError, PlayerView, player_view
from vlmforge_crafter.probes.catalog import PROBE_VERSION
from vlmforge_crafter.probes.config import ProbesConfig

SOURCE_ENV = "crafter"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Frame:
    """One recorded step's frame with what is needed to ask and answer probes about it."""

    run_id: str
    run_name: str
    episode_id: str
    episode_seed: int
    step: int
    image_sha256: str
    png: bytes = field(repr=False)
    text: str | None
    ground_truth: dict[str, Any] = field(repr=False)

    def size(self) -> tuple[int, int]:
        """(width, height) from the PNG header."""
        if self.png[:8] != PNG_SIGNATURE or len(self.png) < 24:
            raise VlmforgeError(f"the frame {self.image_sha256[:12]} is not a PNG image")
        return int.from_bytes(self.png[16:20], "big"), int.from_bytes(self.png[20:24], "big")

    def view(self) -> PlayerView:
        return player_view(self.ground_truth)

    def source(self) -> dict[str, Any]:
        """Where the frame comes from, as recorded with each probe."""
        return {
            "run_id": self.run_id,
            "run": self.run_name,
            "episode_id": self.episode_id,
            "episode_seed": self.episode_seed,
            "step": self.step,
            "image": self.image_sha256,
        }


def sample_rng(seed: int, *parts: object) -> random.Random:
    """The RNG of one sampling decision (frames, or one frame's probes), by version and seed."""
    key = ":".join(str(p) for p in ("vlmforge-probes", f"v{PROBE_VERSION}", seed, *parts))
    return random.Random(key)


def source_runs(store: Any, config: ProbesConfig) -> list[Any]:
    """The crafter runs to take frames from (``runs``: names or ids; empty: every one)."""
    if config.runs:
        runs = []
        for ref in config.runs:
            run = store.get_run(ref)
            if run is None:
                raise ConfigError(
                    f"[probes] runs: no run '{ref}' in {config.trace_db}; "
                    "`vlmforge traces list` shows its runs."
                )
            runs.append(run)
    else:
        runs = [r for r in store.runs() if r.env_name == SOURCE_ENV]
    for run in runs:
        if run.env_name != SOURCE_ENV:
            raise ConfigError(
                f"[probes] runs: run '{run.name}' played '{run.env_name}', not crafter; "
                "probes are asked about recorded crafter frames."
            )
        if run.env_config.get("observation") == "text_only":
            raise ConfigError(
                f"[probes] runs: run '{run.name}' recorded no frames (observation = "
                '"text_only"); choose a run played with images.'
            )
    if not runs:
        raise ConfigError(
            f"{config.trace_db} holds no crafter run to take frames from; record one first "
            "(`vlmforge eval --env crafter ...`)."
        )
    return runs


def sample_frames(store: Any, config: ProbesConfig) -> list[Frame]:
    """``config.frames`` frames sampled (seeded) from the source runs, in stored order."""
    runs = source_runs(store, config)
    names = {r.id: r.name for r in runs}
    query = EpisodeQuery(run_ids=[r.id for r in runs], seeds=config.seed_list())
    seeds = {e.id: (names[e.run_id], e.seed) for e in store.episodes(query=query)}
    # ordered by what the steps are (run name, episode seed, step), not by storage ids, so a
    # copy of the store or the same runs recorded again give the same sample
    candidates = sorted(
        ((m.episode_id, m.index) for m in store.step_metrics(query)),
        key=lambda c: (*seeds[c[0]], c[0], c[1]),
    )
    if len(candidates) < config.frames:
        raise ConfigError(
            f"[probes] frames = {config.frames}, but the selected runs of {config.trace_db} "
            f"hold {len(candidates)} recorded steps; ask for at most {len(candidates)} frames "
            "or record more episodes."
        )
    rng = sample_rng(config.seed, "frames")
    chosen = sorted(rng.sample(range(len(candidates)), config.frames))
    wanted: dict[str, set[int]] = defaultdict(set)
    for i in chosen:
        episode_id, index = candidates[i]
        wanted[episode_id].add(index)
    frames: dict[tuple[str, int], Frame] = {}
    for episode_id, indexes in wanted.items():
        episode = store.get_episode(episode_id)
        for step in store.steps(episode_id):
            if step.index in indexes:
                frames[(episode_id, step.index)] = _frame(store, episode, names, step)
    return [frames[candidates[i]] for i in chosen]


def _frame(store: Any, episode: Any, names: dict[str, str], step: Any) -> Frame:
    where = f"run '{names[episode.run_id]}', episode seed {episode.seed}, step {step.index}"
    images = step.observation.images
    if not images:
        raise VlmforgeError(f"{where} has no frame; probes need recorded images.")
    gt = step.observation.ground_truth
    try:
        player_view(gt)
    except MissingFieldsError as exc:
        raise VlmforgeError(
            f"{where}: its ground truth lacks {', '.join(exc.fields)}; it was recorded by an "
            "older crafter environment. Choose other runs ([probes] runs)."
        ) from None
    return Frame(
        run_id=episode.run_id,
        run_name=names[episode.run_id],
        episode_id=episode.id,
        episode_seed=episode.seed,
        step=step.index,
        image_sha256=images[-1],
        png=store.image(images[-1]),
        text=step.observation.text,
        ground_truth=dict(gt),
    )
