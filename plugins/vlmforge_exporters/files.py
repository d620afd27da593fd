"""Shared helpers for exporters: JSON-lines output and content-addressed PNG files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from vlmforge.dataset.rows import Example


class JsonLines:
    """One JSON object per line, counted."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8")
        self.rows = 0

    def write(self, obj: dict[str, Any]) -> None:
        self._file.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.rows += 1

    def close(self) -> None:
        self._file.close()


class ImageFiles:
    """Writes each image once as ``<dir>/<sha256>.png``; returns paths relative to the export."""

    def __init__(self, root: Path, subdir: str):
        self.root, self.subdir = root, subdir
        (root / subdir).mkdir(parents=True, exist_ok=True)
        self.written = 0

    def path_for(self, example: Example, sha256: str) -> str:
        rel = f"{self.subdir}/{sha256}.png"
        target = self.root / rel
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(example.image(sha256))
            tmp.replace(target)
            self.written += 1
        return rel
