"""The viewer's one way into a trace store: read methods only, one thread at a time.

A store object is used by one thread at a time (the sqlite store's contract), so every call goes
through one lock; the web server's worker threads and the timeline decoder share it.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from vlmforge.components import CorruptTraceError, EpisodeQuery, StepMetrics, TraceStore
from vlmforge.pricing import ModelPrice, load_prices
from vlmforge.summary import summarize
from vlmforge.trace import Episode, Run, Step

NEAR = 10  # steps kept on either side of a step read for the step page
CACHED_STEPS = 256


class NotFound(LookupError):
    """A run, episode, step or image the store does not hold (HTTP 404)."""


class TraceReader:
    """Read-only access to ``store`` (opened by
    :func:`vlmforge.store_read.open_store_for_reading`)."""

    def __init__(self, store: TraceStore, prices: Mapping[str, ModelPrice] | None = None):
        self.store = store
        self.prices = dict(prices) if prices is not None else load_prices()
        self.lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._steps: OrderedDict[tuple[str, int], Step] = OrderedDict()

    @property
    def where(self) -> str:
        return self.store.where

    def runs(self) -> list[Run]:
        with self.lock:
            return list(self.store.runs())

    def run(self, ref: str) -> Run:
        with self.lock:
            run = self.store.get_run(ref)
        if run is None:
            raise NotFound(f"no run '{ref}' in {self.where}")
        return run

    def summary(self, run: Run) -> dict[str, Any]:
        """The run's summary (:func:`vlmforge.summary.summarize`: finished episodes)."""
        with self.lock:
            return summarize(self.store, run, prices=self.prices)

    def episodes(self, run_id: str) -> list[Episode]:
        with self.lock:
            return list(self.store.episodes([run_id]))

    def episode(self, episode_id: str) -> Episode:
        with self.lock:
            episode = self.store.get_episode(episode_id)
        if episode is None:
            raise NotFound(f"no episode '{episode_id}' in {self.where}")
        return episode

    def step_metrics(self, episode_id: str) -> list[StepMetrics]:
        """The episode's scalar step columns (no step is decoded)."""
        with self.lock:
            return list(self.store.step_metrics(EpisodeQuery(episode_ids=[episode_id])))

    def iter_steps(self, episode_id: str) -> Iterator[Step]:
        """The episode's steps in order, each decoded under the lock (other requests interleave
        between steps)."""
        with self.lock:
            steps = iter(self.store.steps(episode_id))
        while True:
            with self.lock:
                step = next(steps, None)
            if step is None:
                return
            yield step

    def steps(self, episode_id: str, start: int, stop: int) -> list[Step]:
        """Steps ``start <= index < stop`` (the store streams an episode from its first step)."""
        found: list[Step] = []
        for step in itertools.takewhile(lambda s: s.index < stop, self.iter_steps(episode_id)):
            if step.index >= start:
                found.append(step)
        return found

    def step(self, episode_id: str, index: int) -> Step:
        """One step; the steps around it are kept (:data:`NEAR`), so the step page's previous
        and next links do not stream the episode again."""
        with self._cache_lock:
            hit = self._steps.get((episode_id, index))
            if hit is not None:
                self._steps.move_to_end((episode_id, index))
                return hit
        found = self.steps(episode_id, max(0, index - NEAR), index + NEAR + 1)
        with self._cache_lock:
            for step in found:
                self._steps[(episode_id, step.index)] = step
            while len(self._steps) > CACHED_STEPS:
                self._steps.popitem(last=False)
        for step in found:
            if step.index == index:
                return step
        self.episode(episode_id)  # a missing episode says so
        raise NotFound(f"episode '{episode_id}' has no step {index}")

    def image(self, sha256: str) -> bytes:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound(f"'{sha256}' is not an image hash (64 hex digits)")
        with self.lock:
            try:
                return self.store.image(sha256)
            except (CorruptTraceError, KeyError, LookupError) as exc:
                raise NotFound(f"no image {sha256} in {self.where}") from exc

    def close(self) -> None:
        with self.lock:
            self.store.close()
