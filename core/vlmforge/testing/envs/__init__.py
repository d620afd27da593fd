"""Environment plugins for tests and benchmarks, loaded with ``--plugins-dir PLUGINS_DIR``.

- ``waiting.py``: the ``waiting`` environment, whose steps only sleep (a slow or distant
  simulator), for measuring how many environment calls an eval keeps in flight.

This ``__init__`` is skipped by the plugins-dir loader (its name starts with ``_``).
"""

from pathlib import Path

PLUGINS_DIR = Path(__file__).parent
