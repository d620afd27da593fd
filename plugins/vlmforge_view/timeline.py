"""An episode's timeline: one compact row per step (frame, reward, unlocks, invalid decision,
vitals), for the frame player.

Rewards and invalid decisions of every step come first from the store's step columns
(:meth:`~vlmforge.components.TraceStore.step_metrics`, nothing decoded), so a 10,000-step
episode's page shows its whole timeline at once; frames, unlocks and vitals need the decoded
steps, which a background thread decodes once per episode (:class:`TimelineCache`) and the page
fetches in pages as they are ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from vlmforge.components import StepMetrics
from vlmforge.trace import Step
from vlmforge_view.reader import TraceReader

VITALS = ("health", "food", "drink", "energy")
CHUNK = 500  # timeline rows per page
CACHED_EPISODES = 8  # decoded timelines kept in memory (~100 bytes a step)


def vitals(step: Step) -> dict[str, int]:
    """Health/food/drink/energy where the environment reports them: the observation's ground
    truth ``inventory`` (Crafter) or the step's ``info``."""
    found: dict[str, int] = {}
    inventory = step.observation.ground_truth.get("inventory")
    sources = [inventory if isinstance(inventory, dict) else {}, step.info]
    for source in sources:
        for name in VITALS:
            value = source.get(name)
            if name not in found and isinstance(value, int | float) and not isinstance(value, bool):
                found[name] = int(value)
    return found


def timeline_row(step: Step) -> dict[str, Any]:
    images = step.observation.images
    return {
        "i": step.index,
        "frame": images[-1] if images else None,  # the current frame is the last image
        "reward": step.reward,
        "achievements": list(step.achievements),
        "invalid": step.invalid_decision,
        "invalid_kinds": [i.kind for i in step.invalid],
        "actions": list(step.actions),
        "vitals": vitals(step),
        "done": step.done,
        "error": step.error,
    }


def metrics_columns(rows: list[StepMetrics]) -> dict[str, list[Any]]:
    """Every step's reward and invalid flag, as columns (compact JSON)."""
    return {
        "index": [m.index for m in rows],
        "reward": [m.reward for m in rows],
        "invalid": [int(m.invalid) for m in rows],
    }


class _Decoding:
    """One episode's rows, appended by a decoding thread; readers wait for the rows they ask."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.done = False
        self.error: str | None = None
        self.ready = threading.Condition()


class TimelineCache:
    """Decoded timelines of the last :data:`CACHED_EPISODES` episodes viewed."""

    def __init__(self, reader: TraceReader):
        self.reader = reader
        self._lock = threading.Lock()
        self._episodes: OrderedDict[str, _Decoding] = OrderedDict()

    def _decoding(self, episode_id: str) -> _Decoding:
        with self._lock:
            found = self._episodes.get(episode_id)
            if found is not None:
                self._episodes.move_to_end(episode_id)
                return found
            found = self._episodes[episode_id] = _Decoding()
            while len(self._episodes) > CACHED_EPISODES:
                self._episodes.popitem(last=False)
        thread = threading.Thread(
            target=self._decode,
            args=(episode_id, found),
            name="vlmforge-view-timeline",
            daemon=True,
        )
        thread.start()
        return found

    def _decode(self, episode_id: str, into: _Decoding) -> None:
        try:
            for step in self.reader.iter_steps(episode_id):
                row = timeline_row(step)
                with into.ready:
                    into.rows.append(row)
                    if len(into.rows) % 50 == 0:
                        into.ready.notify_all()
        except Exception as exc:  # reported to the page (a corrupt step), not swallowed
            into.error = f"{type(exc).__name__}: {exc}"
        finally:
            with into.ready:
                into.done = True
                into.ready.notify_all()

    def rows(
        self, episode_id: str, offset: int, limit: int = CHUNK, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """Rows ``offset .. offset + limit`` once decoded (the episode must exist)."""
        self.reader.episode(episode_id)
        decoding = self._decoding(episode_id)
        with decoding.ready:
            decoding.ready.wait_for(
                lambda: decoding.done or len(decoding.rows) >= offset + limit, timeout=timeout_s
            )
            rows = decoding.rows[offset : offset + limit]
            complete = decoding.done
            decoded = len(decoding.rows)
        return {
            "offset": offset,
            "rows": rows,
            "decoded": decoded,
            "complete": complete,
            "error": decoding.error,
        }
