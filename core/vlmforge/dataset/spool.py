"""Rows on disk between the two passes, so that memory stays flat and the shuffle is exact.

Pass 1 appends each example as one JSON line (images by hash, never inlined) and remembers its
byte offset and episode in two compact arrays; pass 2 reads the rows back in any order.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vlmforge.dataset.rows import Example
from vlmforge.trace import Message


class Spool:
    """An append-only JSON-lines file of examples with an in-memory offset index."""

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("w+b")
        self.offsets = array("q")
        self.episodes = array("l")  # the kept-episode ordinal of each row
        self.sources = array("h")
        self._tools: list[list[dict[str, Any]]] = []
        self._tools_index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, example: Example, episode: int, source: int) -> None:
        tools_json = json.dumps(example.tools, sort_keys=True)
        t = self._tools_index.get(tools_json)
        if t is None:
            t = self._tools_index[tools_json] = len(self._tools)
            self._tools.append(example.tools)
        record = {
            "m": [m.model_dump(mode="json", exclude_none=True) for m in example.messages],
            "t": t,
            "md": example.metadata,
        }
        self.offsets.append(self._file.tell())
        self.episodes.append(episode)
        self.sources.append(source)
        self._file.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    def read(self, row: int) -> tuple[list[Message], list[dict[str, Any]], dict[str, Any]]:
        self._file.seek(self.offsets[row])
        record = json.loads(self._file.readline())
        messages = [Message.model_validate(m) for m in record["m"]]
        return messages, self._tools[record["t"]], record["md"]

    def rows(self, order: Iterator[int]) -> Iterator[tuple[int, list[Message], list, dict]]:
        self._file.flush()
        for row in order:
            yield (row, *self.read(row))

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)
