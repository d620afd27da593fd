"""Copying runs from one trace store to another (``vlmforge traces copy``), any backend to any.

Everything goes through the :class:`~vlmforge.components.TraceStore` methods, so a copy is what
the target's own writer would have stored: runs, episodes (ids, statuses, counters, times),
steps exactly as recorded, and every frame a step shows (its observation's images and the image
parts of its prompt), stored once by hash. Each episode is copied in a few transactions; a copy
that fails part-way leaves the target with complete runs and, at most, one partly copied episode
marked ``interrupted``, which ``--resume`` on the target would replay.

The target must not hold any of the runs yet (checked before anything is written). An episode
still ``running`` in the source (a live writer) is copied as it stands, marked ``interrupted``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vlmforge.components import EpisodeQuery, TraceStore
from vlmforge.errors import ConfigError
from vlmforge.images import PngImage
from vlmforge.trace import Episode, EpisodeStatus, Run, Step

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class CopyCounts:
    """What was copied."""

    runs: int = 0
    episodes: int = 0
    steps: int = 0
    images: int = 0
    interrupted: int = 0  # episodes running in the source, copied as interrupted


def copy_runs(
    source: TraceStore,
    target: TraceStore,
    run_refs: Iterable[str] = (),
    *,
    progress: Callable[[Run, int], None] | None = None,
) -> CopyCounts:
    """Copy the runs named in ``run_refs`` (names or ids; every run when empty) from
    ``source`` to ``target``; ``progress(run, episodes_copied)`` after each run."""
    runs = _select(source, list(run_refs))
    taken = [r.name for r in runs if target.get_run(r.name) or target.get_run(r.id)]
    if taken:
        raise ConfigError(
            f"{target.where} already holds {_plural(len(taken), 'run')} "
            f"{', '.join(taken)}; nothing was copied. Copy into a store without them, or remove "
            "them there first (`vlmforge traces rm`)."
        )
    counts = CopyCounts()
    known_images: set[str] = set()
    for run in runs:
        target.create_run(run)
        counts.runs += 1
        copied = 0
        for episode in source.episodes(query=EpisodeQuery(run_ids=[run.id])):
            _copy_episode(source, target, episode, known_images, counts)
            copied += 1
        counts.episodes += copied
        if progress is not None:
            progress(run, copied)
    return counts


def _select(source: TraceStore, refs: list[str]) -> list[Run]:
    runs = list(source.runs())
    if not refs:
        return runs
    chosen: list[Run] = []
    for ref in refs:
        found = [r for r in runs if ref in (r.id, r.name)]
        if not found:
            raise ConfigError(
                f"no run '{ref}' in {source.where}; `vlmforge traces list` shows its runs."
            )
        chosen.extend(r for r in found if r not in chosen)
    return chosen


def _copy_episode(
    source: TraceStore,
    target: TraceStore,
    episode: Episode,
    known_images: set[str],
    counts: CopyCounts,
) -> None:
    final = episode.model_copy(deep=True)
    if final.status is EpisodeStatus.running:
        final.status = EpisodeStatus.interrupted
        counts.interrupted += 1
    # inserted as interrupted first: a copy that dies half-way leaves a replayable attempt
    first = final.model_copy(update={"status": EpisodeStatus.interrupted})
    target.start_episode(first)
    for step in source.steps(episode.id):
        images = [_image(source, sha) for sha in _image_hashes(step) if sha not in known_images]
        target.record_step(step, images)
        known_images.update(i.sha256 for i in images)
        counts.images += len(images)
        counts.steps += 1
    target.finish_episode(final)


def _image_hashes(step: Step) -> list[str]:
    """The frames a step shows, each once, in order."""
    hashes = list(step.observation.images)
    for message in step.prompt:
        hashes.extend(message.image_hashes())
    return list(dict.fromkeys(hashes))


def _image(source: TraceStore, sha: str) -> PngImage:
    png = source.image(sha)
    width, height = png_size(png)
    return PngImage(png=png, width=width, height=height, sha256=sha)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (0, 0 for bytes that are not a PNG)."""
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE):
        return 0, 0
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
