"""Filter preview: which episodes and steps a ``vlmforge filter`` config keeps, and why.

The config is loaded and its filters built exactly as ``vlmforge filter`` does
(:func:`vlmforge.dataset.pipeline.build_filters`) and applied by the same
:class:`~vlmforge.dataset.chain.FilterChain`; each filter is wrapped only to record which
steps it saw and returned. The preview reads the viewer's store: the config's ``trace_dbs``,
rows, dedupe, split and exporter are not used (nothing is exported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from vlmforge.components import EpisodeTrace, Filter
from vlmforge.config import TomlSource, load_command_config
from vlmforge.dataset.chain import FilterChain
from vlmforge.dataset.config import FilterConfig
from vlmforge.dataset.pipeline import build_filters
from vlmforge.trace import Episode, Run, Step
from vlmforge_view.reader import TraceReader

PAGE_SIZE = 25  # episodes per preview page


@dataclass
class _Seen:
    """What one filter did to the current episode."""

    dropped: bool = False
    removed: list[int] = field(default_factory=list)  # step indices it removed


class _Recording:
    """A filter, unchanged, that notes what it removed from each episode it is applied to."""

    def __init__(self, flt: Filter):
        self.flt = flt
        self.needs_steps = getattr(flt, "needs_steps", True)
        self.seen = _Seen()

    def apply(self, item: EpisodeTrace) -> EpisodeTrace | None:
        before = [s.index for s in item.steps]
        result = self.flt.apply(item)
        if result is None:
            self.seen = _Seen(dropped=True, removed=before)
        else:
            kept = {s.index for s in result.steps}
            self.seen = _Seen(removed=[i for i in before if i not in kept])
        return result


def ranges(indices: list[int]) -> list[list[int]]:
    """``[0, 1, 2, 5, 6]`` -> ``[[0, 2], [5, 6]]`` (inclusive)."""
    out: list[list[int]] = []
    for i in sorted(indices):
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _steps(reader: TraceReader, episode_id: str) -> list[Step]:
    return list(reader.iter_steps(episode_id))


class FilterPreview:
    """One filter config, applied page by page to the reader's episodes."""

    def __init__(self, path: Path, registry: Any):
        loaded = load_command_config(FilterConfig, path)
        self.path = path
        self.config: FilterConfig = loaded.config
        toml: TomlSource | None = loaded.source
        self.filters = build_filters(self.config, registry, toml)
        self.entries = [{"name": e.name, "settings": e.settings()} for e in self.config.filters]

    def describe(self) -> dict[str, Any]:
        """The config's path, its filters, and the keys it sets that a preview does not use."""
        unused = sorted(self.config.model_fields_set - {"filters"})
        return {"path": str(self.path), "filters": self.entries, "not_used": unused}

    def _episodes(self, reader: TraceReader) -> list[tuple[Run, Episode]]:
        runs = {r.id: r for r in reader.runs()}
        out = []
        for run in runs.values():
            out += [(run, e) for e in reader.episodes(run.id)]
        return out

    def page(self, reader: TraceReader, offset: int = 0, limit: int = PAGE_SIZE) -> dict[str, Any]:
        """Episodes ``offset .. offset + limit`` (runs oldest first, then seeds), each kept or
        dropped, with the steps each filter removed."""
        recording = [(name, _Recording(flt)) for name, flt in self.filters]
        chain = FilterChain(recording)
        everything = self._episodes(reader)
        rows = []
        for run, episode in everything[offset : offset + limit]:
            for _, rec in recording:
                rec.seen = _Seen()
            result = chain.apply(run, episode, partial(_steps, reader, episode.id))
            removed: list[dict[str, Any]] = []
            dropped_by = None
            for (name, rec), entry in zip(recording, self.entries, strict=True):
                if rec.seen.dropped and dropped_by is None:
                    dropped_by = name
                if rec.seen.removed or rec.seen.dropped:
                    removed.append(
                        {
                            "filter": name,
                            "settings": entry["settings"],
                            "dropped_episode": rec.seen.dropped,
                            "steps": len(rec.seen.removed),
                            "ranges": ranges(rec.seen.removed),
                        }
                    )
            if result is not None and dropped_by is None:
                kept = [s.index for s in result.steps]
            else:
                kept = []
                if dropped_by is None:  # every step removed: the chain drops the episode
                    dropped_by = removed[-1]["filter"] if removed else None
            rows.append(
                {
                    "episode_id": episode.id,
                    "run": run.name,
                    "seed": episode.seed,
                    "status": episode.status.value,
                    "steps": episode.steps,
                    "kept": result is not None,
                    "dropped_by": dropped_by if result is None else None,
                    "kept_steps": len(kept),
                    "kept_ranges": ranges(kept),
                    "removed": removed,
                }
            )
        return {
            **self.describe(),
            "total": len(everything),
            "offset": offset,
            "limit": limit,
            "episodes": rows,
            "counts": [c.as_dict() for c in chain.counts],
        }
