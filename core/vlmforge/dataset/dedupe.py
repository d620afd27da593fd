"""Exact-duplicate removal: rows with the same (frame hashes, text observation, action).

Keys are the first 8 bytes of a sha256 (see :func:`vlmforge.dataset.rows.step_key`), held as
Python ints: about 70 bytes per distinct row, the only per-row state the pipeline keeps in memory
besides the 12-byte row index of the spool.
"""

from __future__ import annotations


class Deduper:
    """Remembers keys seen; ``seen(key)`` is True for the second and later occurrences."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._keys: set[int] = set()
        self.removed = 0

    def seen(self, key: bytes) -> bool:
        if not self.enabled or not key:
            return False
        k = int.from_bytes(key, "big")
        if k in self._keys:
            self.removed += 1
            return True
        self._keys.add(k)
        return False
