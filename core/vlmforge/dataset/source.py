"""Episodes streamed from one or more trace stores (``--trace-db`` repeated merges databases)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from vlmforge.components import TraceStore
from vlmforge.errors import VlmforgeError
from vlmforge.trace import Episode, Run, Step

IMAGE_CACHE_SIZE = 256  # PNGs kept in memory (a 64x64 Crafter frame is 1-5 KB)


@dataclass(frozen=True)
class EpisodeRef:
    """One episode's metadata and the store it lives in (its steps are loaded on demand)."""

    source: int  # index of the store in the Source
    run: Run
    episode: Episode

    @property
    def key(self) -> tuple[int, str]:
        """Unique across merged databases."""
        return (self.source, self.episode.id)


class Source:
    """Reads runs, episodes, steps and images from several stores without holding them."""

    def __init__(self, stores: Sequence[TraceStore], labels: Sequence[str]):
        if len(stores) != len(labels):
            raise ValueError("one label per store")
        self.stores, self.labels = list(stores), list(labels)
        self._runs: list[dict[str, Run]] = [{r.id: r for r in s.runs()} for s in self.stores]
        self._images: OrderedDict[tuple[int, str], bytes] = OrderedDict()

    def run_count(self) -> int:
        return sum(len(r) for r in self._runs)

    def count_episodes(self) -> int:
        """Episodes in every store (metadata only: steps are not read)."""
        return sum(1 for _ in self.episodes())

    def episodes(self) -> Iterator[EpisodeRef]:
        """Every episode, store by store, in the stores' own order."""
        for i, store in enumerate(self.stores):
            runs = self._runs[i]
            for episode in store.episodes(None):
                run = runs.get(episode.run_id)
                if run is None:  # a run written after we listed runs: look it up once
                    found = store.get_run(episode.run_id)
                    if found is None:
                        raise VlmforgeError(
                            f"{self.labels[i]}: episode {episode.id} refers to run "
                            f"{episode.run_id}, which is not in the database."
                        )
                    run = runs[found.id] = found
                yield EpisodeRef(i, run, episode)

    def steps(self, ref: EpisodeRef) -> list[Step]:
        """The episode's steps in index order (one episode at a time is held in memory)."""
        steps = list(self.stores[ref.source].steps(ref.episode.id))
        steps.sort(key=lambda s: s.index)
        return steps

    def image(self, source: int, sha256: str) -> bytes:
        """PNG bytes, through a small LRU cache (frames recur across rows and turns)."""
        key = (source, sha256)
        png = self._images.get(key)
        if png is not None:
            self._images.move_to_end(key)
            return png
        png = self.stores[source].image(sha256)
        self._images[key] = png
        if len(self._images) > IMAGE_CACHE_SIZE:
            self._images.popitem(last=False)
        return png

    def close(self) -> None:
        for store in self.stores:
            store.close()
