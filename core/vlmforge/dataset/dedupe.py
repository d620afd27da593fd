"""Exact-duplicate removal: rows with the same (frame hashes, text observation, action).

Keys are the first 8 bytes of a sha256 (see :func:`vlmforge.dataset.rows.step_key`). With a
``path`` they are kept in a small on-disk SQLite table (a 1 MiB page cache), so memory does not
grow with the number of rows; without one, in a Python set (tests, small jobs).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class Deduper:
    """``seen(key)`` is True for the second and later occurrences of ``key``."""

    def __init__(self, enabled: bool = True, path: Path | None = None):
        self.enabled = enabled
        self.removed = 0
        self._keys: set[int] = set()
        self._db: sqlite3.Connection | None = None
        self._pending = 0
        if enabled and path is not None:
            self._db = sqlite3.connect(path, isolation_level=None)
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1024"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE IF NOT EXISTS seen (k INTEGER PRIMARY KEY)")
            self._db.execute("BEGIN")

    def seen(self, key: bytes) -> bool:
        if not self.enabled or not key:
            return False
        k = int.from_bytes(key[:8], "big", signed=True)
        if self._db is None:
            if k in self._keys:
                self.removed += 1
                return True
            self._keys.add(k)
            return False
        cursor = self._db.execute("INSERT OR IGNORE INTO seen (k) VALUES (?)", (k,))
        self._pending += 1
        if self._pending >= 50_000:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0
        if cursor.rowcount == 0:
            self.removed += 1
            return True
        return False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
