"""Shared helpers for exporters: JSON-lines output and content-addressed PNG files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from vlmforge.dataset.rows import Example
from vlmforge.trace import ImagePart


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


class JsonLinesImageExporter:
    """Base of the exporters that write ``{split}.jsonl`` rows and the PNG files under
    ``config.image_dir``; a subclass builds each row in ``row``."""

    def __init__(self, config: Any):
        self.c = config
        self._out: JsonLines | None = None
        self._images: ImageFiles | None = None

    def open(self, output_dir: Path, split: str) -> None:
        self._root, self._split = output_dir, split
        self._out = JsonLines(output_dir / f"{split}.jsonl")
        self._images = ImageFiles(output_dir, self.c.image_dir)

    def row(self, example: Example) -> dict[str, Any]:
        raise NotImplementedError

    def image_path(self, example: Example, part: ImagePart, images: list[str]) -> None:
        """Write the part's PNG file (once) and add its path to ``images``."""
        assert self._images is not None
        images.append(self._images.path_for(example, part.sha256))

    def write(self, example: Example) -> None:
        assert self._out is not None, "open() first"
        self._out.write(self.row(example))

    def close(self) -> dict[str, Any]:
        assert self._out is not None and self._images is not None
        self._out.close()
        return {
            "file": self._out.path.name,
            "rows": self._out.rows,
            "images_written": self._images.written,
        }
