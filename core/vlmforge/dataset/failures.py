"""A filter or exporter that raises: one message naming the component, its plugin and the item.

The filter chain and the export pass call plugin code (``Filter.apply``, ``Exporter.open`` /
``write`` / ``close``). An exception from there reaches the user as a
:class:`ComponentFailedError`: ``filter 'drop-action' (plugin 'drop_action') failed on episode
E (run 'R', seed 3): ValueError: ... (raised at drop_action.py:27)``, plus what to do, instead
of a raw traceback that names neither. A :class:`~vlmforge.errors.VlmforgeError` (a clear error
a component or the core already raised) passes through unchanged.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from vlmforge.errors import VlmforgeError

MAX_MESSAGE_CHARS = 300  # of the exception's own text: the error stays on one screen

_FIX = {
    "filter": "Fix the filter, or leave it out (the config's [[filters]] / --filter).",
    "exporter": "Fix the exporter, or choose another one (--exporter / exporter).",
}


class ComponentFailedError(VlmforgeError):
    """A plugin component raised while filtering or exporting (a runtime failure: exit 1)."""


def component_label(kind: str, name: str, plugin: str | None) -> str:
    """``filter 'drop-action' (plugin 'drop_action')``."""
    return f"{kind} '{name}'" + (f" (plugin '{plugin}')" if plugin else "")


def component_failed(kind: str, label: str, during: str, exc: Exception) -> ComponentFailedError:
    """The error for ``exc`` raised by the component ``label`` ``during`` (``"on episode E"``,
    ``"while being built"``)."""
    text = str(exc).strip().replace("\n", " ")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    raised = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (raised at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return ComponentFailedError(
        f"{label} failed {during}: {raised}{at}. Nothing was exported (an earlier export in "
        f"the output directory is untouched). {_FIX.get(kind, '')}".rstrip()
    )
