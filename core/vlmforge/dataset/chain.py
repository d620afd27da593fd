"""Filters applied in order to each episode, counting what each one removed.

A filter may declare ``needs_steps = False`` (it looks only at ``item.run`` and ``item.episode``);
while the chain meets only such filters it applies them to a trace with no steps loaded, so
episodes dropped by run/seed/status/reward selection cost no step reads. The first filter
without that declaration (a plain function filter included) sees the loaded steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vlmforge.components import EpisodeTrace, Filter
from vlmforge.dataset.failures import component_failed, component_label
from vlmforge.errors import VlmforgeError
from vlmforge.trace import Episode, Run, Step


@dataclass
class FilterCount:
    """What one filter saw and removed."""

    name: str
    episodes_in: int = 0
    episodes_dropped: int = 0
    steps_in: int = 0
    steps_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FilterChain:
    """``[(name, filter), ...]`` applied in order; an episode with no steps left is dropped.

    ``plugins`` (filter name -> the plugin that registered it) is only for error messages: a
    filter that raises is reported as ``filter 'NAME' (plugin 'P') failed on episode ...``.
    """

    def __init__(
        self, filters: Sequence[tuple[str, Filter]], plugins: Mapping[str, str] | None = None
    ):
        self.filters = list(filters)
        self.counts = [FilterCount(name) for name, _ in self.filters]
        self.plugins = dict(plugins or {})

    def apply(
        self, run: Run, episode: Episode, load_steps: Callable[[], list[Step]]
    ) -> EpisodeTrace | None:
        """The episode after every filter, or ``None`` if one dropped it."""
        item = EpisodeTrace(run=run, episode=episode, steps=[])
        loaded = False
        for (name, flt), count in zip(self.filters, self.counts, strict=True):
            if not loaded and getattr(flt, "needs_steps", True):
                item.steps = load_steps()
                loaded = True
            before = len(item.steps) if loaded else episode.steps
            count.episodes_in += 1
            count.steps_in += before
            try:
                result = flt.apply(item)
            except VlmforgeError:
                raise
            except Exception as exc:  # plugin code: name the filter, its plugin, the episode
                label = component_label("filter", name, self.plugins.get(name))
                where = f"on episode {episode.id} (run '{run.name}', seed {episode.seed})"
                raise component_failed("filter", label, where, exc) from exc
            if result is not None and not isinstance(result, EpisodeTrace):
                raise VlmforgeError(
                    f"filter '{name}' returned {type(result).__name__}; a filter's apply() "
                    f"must return the EpisodeTrace (kept or trimmed) or None (dropped)."
                )
            if result is None or (loaded and not result.steps):
                count.episodes_dropped += 1
                count.steps_removed += before
                return None
            if loaded:
                count.steps_removed += before - len(result.steps)
            item = result
        if not loaded:
            item.steps = load_steps()
        return item
