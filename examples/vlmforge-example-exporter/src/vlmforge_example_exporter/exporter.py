"""``example-pc``: one JSON line per example, ``{"prompt", "completion", "images"}``.

What a third-party exporter needs from vlmforge:

- ``vlmforge.dataset.rows.Example``: ``messages`` (``vlmforge.trace.Message``: role, content
  parts, tool calls; images by sha256), ``tools``, ``metadata`` and ``image(sha) -> bytes``;
- ``vlmforge.config.StrictModel`` for its settings (``[exporter_options]`` in the filter config).

``open(output_dir, split)`` gets a *staging* folder (``OUT/.vlmforge-filter-<pid>/``), not the
final output folder: ``vlmforge filter`` moves everything written there into ``OUT`` at the end,
so a failed run leaves an earlier export untouched. Write every file under ``output_dir`` and
refer to them by paths relative to it (never ``output_dir``'s absolute path: that folder is gone
after the move). Both splits get the same ``output_dir``, so name files by split or share a
content-addressed folder as here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pydantic import Field

from vlmforge.config import StrictModel
from vlmforge.dataset.rows import Example
from vlmforge.trace import Message


class PromptCompletionConfig(StrictModel):
    """``[exporter_options]`` for ``exporter = "example-pc"``."""

    system: bool = Field(True, description="Start the prompt with the system message.")


class PromptCompletionExporter:
    """``{split}.jsonl`` plus ``images/<sha256>.png`` (each image written once)."""

    config_model = PromptCompletionConfig

    def __init__(self, config: PromptCompletionConfig):
        self.config = config
        self._file: IO[str] | None = None
        self._dir = Path()
        self._rows = 0
        self._images = 0

    def open(self, output_dir: Path, split: str) -> None:
        self._dir = output_dir
        (output_dir / "images").mkdir(parents=True, exist_ok=True)
        self._name = f"{split}.jsonl"
        self._file = (output_dir / self._name).open("w", encoding="utf-8")

    def write(self, example: Example) -> None:
        assert self._file is not None, "open() first"
        *context, target = example.messages
        if not self.config.system:
            context = [m for m in context if m.role != "system"]
        images = [self._image(example, sha) for m in context for sha in m.image_hashes()]
        row = {
            "prompt": "\n".join(f"{m.role}: {m.text()}" for m in context),
            "completion": _completion(target),
            "images": images,
        }
        self._file.write(json.dumps(row) + "\n")
        self._rows += 1

    def close(self) -> dict[str, Any]:
        assert self._file is not None
        self._file.close()
        return {"file": self._name, "rows": self._rows, "images_written": self._images}

    def _image(self, example: Example, sha: str) -> str:
        relative = f"images/{sha}.png"
        path = self._dir / relative
        if not path.exists():
            path.write_bytes(example.image(sha))
            self._images += 1
        return relative


def _completion(message: Message) -> str:
    """The assistant's text, then each tool call as ``name(arguments)``."""
    calls = [f"{c.function.name}({c.function.arguments})" for c in message.tool_calls or []]
    return "\n".join(part for part in [message.text(), *calls] if part)
