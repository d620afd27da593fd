"""Rows on disk between the two passes, so that memory stays flat and the shuffle is exact.

Pass 1 appends each example as one JSON line (images by hash, never inlined) to ``rows`` and a
fixed-size index record (byte offset, kept-episode ordinal, source) to ``index``; pass 2 reads
any row back with two positioned reads. Nothing per row stays in memory.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vlmforge.dataset.rows import Example
from vlmforge.trace import Message

_INDEX = struct.Struct("<qIH2x")  # offset, episode ordinal, source: 16 bytes a row


class Spool:
    """An append-only JSON-lines file of examples plus an on-disk index."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._rows = (directory / "rows.spool").open("w+b")
        self._index = (directory / "rows.index").open("w+b")
        self._offset = 0
        self._count = 0
        self._tools: list[list[dict[str, Any]]] = []  # one entry per distinct tool list
        self._tools_index: dict[str, int] = {}

    def __len__(self) -> int:
        return self._count

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
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        self._rows.write(line)
        self._index.write(_INDEX.pack(self._offset, episode, source))
        self._offset += len(line)
        self._count += 1

    def locate(self, row: int) -> tuple[int, int, int, int]:
        """(offset, length, episode ordinal, source) of ``row``."""
        fd = self._index.fileno()
        offset, episode, source = _INDEX.unpack(os.pread(fd, _INDEX.size, row * _INDEX.size))
        if row + 1 < self._count:
            end = _INDEX.unpack(os.pread(fd, _INDEX.size, (row + 1) * _INDEX.size))[0]
        else:
            end = self._offset
        return offset, end - offset, episode, source

    def read(
        self, row: int
    ) -> tuple[list[Message], list[dict[str, Any]], dict[str, Any], int, int]:
        """(messages, tools, metadata, episode ordinal, source) of ``row``."""
        offset, length, episode, source = self.locate(row)
        record = json.loads(os.pread(self._rows.fileno(), length, offset))
        messages = [Message.model_validate(m) for m in record["m"]]
        return messages, self._tools[record["t"]], record["md"], episode, source

    def rows(self, order: Iterable[int]) -> Iterator[tuple[list[Message], list, dict, int, int]]:
        """Rows in ``order``."""
        self._rows.flush()
        self._index.flush()
        for row in order:
            yield self.read(row)

    def close(self) -> None:
        for f in (self._rows, self._index):
            f.close()
            Path(f.name).unlink(missing_ok=True)
