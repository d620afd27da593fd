"""``openai-sft``: OpenAI chat fine-tuning JSONL with tools, tool calls and data-URL images.

Each line: ``{"messages": [...], "tools": [...], "metadata": {...}}``. Messages are the trace's
messages in OpenAI wire form: images as ``image_url`` parts with ``data:image/png;base64,`` URLs,
assistant ``tool_calls`` with ``arguments`` a JSON string, ``tool`` messages with ``tool_call_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from vlmforge.config import StrictModel
from vlmforge.dataset.rows import Example
from vlmforge.prompting import to_openai
from vlmforge_exporters.files import JsonLines

MIN_EXAMPLES = 10
MAX_IMAGE_EXAMPLES = 50_000


class OpenAISFTConfig(StrictModel):
    detail: Literal["low", "high", "auto"] | None = Field(
        None, description="Set image_url.detail on images that do not have one (null: leave)."
    )
    metadata: bool = Field(True, description="Write the per-row metadata object.")
    text_parts: bool = Field(
        False,
        description="Write string contents as [{type: text}] parts, so every content has one "
        "type (helps Arrow-based loaders on very large files).",
    )


class OpenAISFTExporter:
    """``{split}.jsonl`` in OpenAI's chat fine-tuning format."""

    config_model = OpenAISFTConfig

    def __init__(self, config: OpenAISFTConfig):
        self.c = config
        self._out: JsonLines | None = None
        self._with_images = 0

    def open(self, output_dir: Path, split: str) -> None:
        self._out = JsonLines(output_dir / f"{split}.jsonl")
        self._split = split

    def row(self, example: Example) -> dict[str, Any]:
        messages = to_openai(example.messages, example.image)
        for msg in messages:
            content = msg.get("content")
            if isinstance(content, list) and self.c.detail:
                for part in content:
                    if part["type"] == "image_url":
                        part["image_url"].setdefault("detail", self.c.detail)
            if self.c.text_parts and isinstance(content, str):
                msg["content"] = [{"type": "text", "text": content}]
        row: dict[str, Any] = {"messages": messages}
        if example.tools:
            row["tools"] = example.tools
        if self.c.metadata:
            row["metadata"] = example.metadata
        return row

    def write(self, example: Example) -> None:
        assert self._out is not None, "open() first"
        self._out.write(self.row(example))
        self._with_images += bool(example.image_hashes())

    def close(self) -> dict[str, Any]:
        assert self._out is not None
        self._out.close()
        summary: dict[str, Any] = {"file": self._out.path.name, "rows": self._out.rows}
        warnings = []
        if self._split == "train" and self._out.rows < MIN_EXAMPLES:
            warnings.append(
                f"{self._out.rows} training examples: OpenAI fine-tuning needs at least "
                f"{MIN_EXAMPLES}."
            )
        if self._with_images > MAX_IMAGE_EXAMPLES:
            warnings.append(
                f"{self._with_images} examples with images in {self._out.path.name}: OpenAI "
                f"accepts at most {MAX_IMAGE_EXAMPLES:,} per file."
            )
        if warnings:
            summary["warnings"] = warnings
        return summary
