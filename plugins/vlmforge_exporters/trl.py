"""``trl``: what TRL's SFTTrainer loads for vision-language models.

Step rows (``[rows] mode = "step"``): ``{"prompt": [...], "completion": [...], "images": [...],
"metadata": "<json>"}``; episode rows (``mode = "episode"``): ``{"messages": [...], "images": [...],
"metadata": "<json>"}``: one schema per file, whatever the number of turns. Every ``content`` is a
list of parts (``{"type": "text", "text": ...}`` or ``{"type": "image"}`` placeholders, one per
entry of ``images``, in order), so Arrow sees one type; ``metadata`` is a JSON string (a stable
column type however large the file). The assistant's tool calls are rendered as text
(``tool_call_format``), since VLM chat templates train on the text they emit.

Images: by default PNG files written once under ``images/`` and ``{split}.jsonl`` rows naming them
relative to the export directory, or (``absolute_paths``) by their absolute path in the published
export directory (not the staging folder); ``embed_images`` writes ``{split}.parquet`` with the
PNG bytes in an ``Image`` feature instead, which loads from any working directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from vlmforge.config import StrictModel
from vlmforge.dataset.rows import Example
from vlmforge.dataset.staging import published_dir
from vlmforge.prompting import map_parts, text_part
from vlmforge.trace import ImagePart, Message
from vlmforge_exporters.files import JsonLinesImageExporter
from vlmforge_exporters.parquet import ParquetRows, trl_features

COLUMNS = {"step": ("prompt", "completion"), "episode": ("messages",)}


class TRLConfig(StrictModel):
    tool_call_format: Literal["hermes", "json"] = Field(
        "hermes",
        description='hermes: <tool_call>{"name": ..., "arguments": {...}}</tool_call> blocks '
        "(Qwen's format) after the reply's text; json: the calls as one JSON list.",
    )
    image_dir: str = Field("images", min_length=1, description="Folder for the PNG files.")
    absolute_paths: bool = Field(
        False, description="Write absolute image paths (into the published export directory)."
    )
    embed_images: bool = Field(
        False,
        description="Write {split}.parquet with the PNG bytes embedded (a datasets Image "
        "feature) instead of {split}.jsonl + image files: loads from any directory.",
    )

    @model_validator(mode="after")
    def _one_image_form(self) -> TRLConfig:
        if self.embed_images and self.absolute_paths:
            raise ValueError(
                "embed_images = true writes no image files, so absolute_paths does not apply: "
                "set one of them"
            )
        if self.embed_images and "image_dir" in self.model_fields_set:
            raise ValueError(
                "embed_images = true writes no image files, so image_dir does not apply: "
                "remove it or set embed_images = false"
            )
        return self


def tool_call_json(msg: Message) -> list[dict[str, Any]]:
    calls = []
    for call in msg.tool_calls or ():
        try:
            args: Any = json.loads(call.function.arguments)
        except ValueError:
            args = call.function.arguments  # recorded verbatim, invalid JSON stays a string
        calls.append({"name": call.function.name, "arguments": args})
    return calls


def assistant_text(msg: Message, fmt: str) -> str:
    """The assistant turn as the text a model would emit."""
    text = msg.text()
    calls = tool_call_json(msg)
    if not calls:
        return text
    if fmt == "json":
        rendered = json.dumps(calls)
    else:
        rendered = "\n".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls)
    return f"{text}\n{rendered}" if text.strip() else rendered


class TRLExporter(JsonLinesImageExporter):
    """``{split}.jsonl`` + ``images/`` (or ``{split}.parquet`` with the images embedded)."""

    config_model = TRLConfig
    c: TRLConfig

    def open(self, output_dir: Path, split: str) -> None:
        if not self.c.embed_images:
            super().open(output_dir, split)
            self._published = published_dir(output_dir)
            return
        self._root, self._split = output_dir, split
        self._parquet: ParquetRows | None = None
        self._embedded = 0

    def image_path(self, example: Example, part: ImagePart, images: list[Any]) -> None:
        if not self.c.embed_images:
            super().image_path(example, part, images)
            return
        images.append({"bytes": example.image(part.sha256), "path": None})
        self._embedded += 1

    def _message(self, msg: Message, example: Example, images: list[Any]) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if msg.role == "assistant":
            parts.append({"type": "text", "text": assistant_text(msg, self.c.tool_call_format)})
        elif isinstance(msg.content, list):

            def image(part: ImagePart) -> dict[str, Any]:
                self.image_path(example, part, images)
                return {"type": "image"}

            parts.extend(map_parts(msg.content, text_part, image))
        else:
            parts.append({"type": "text", "text": msg.content or ""})
        return {"role": msg.role, "content": parts}

    def row(self, example: Example) -> dict[str, Any]:
        images: list[Any] = []
        msgs = [self._message(m, example, images) for m in example.messages]
        if self.c.absolute_paths:
            images = [str(self._published / p) for p in images]
        meta = json.dumps(example.metadata)
        if example.mode == "episode":
            return {"messages": msgs, "images": images, "metadata": meta}
        if not msgs or msgs[-1]["role"] != "assistant":
            raise ValueError("a step row must end with the assistant's reply")
        return {"prompt": msgs[:-1], "completion": msgs[-1:], "images": images, "metadata": meta}

    def write(self, example: Example) -> None:
        if not self.c.embed_images:
            super().write(example)
            return
        row = self.row(example)
        if self._parquet is None:  # the columns follow the rows' mode, known from the first row
            features = trl_features(COLUMNS[example.mode])
            self._parquet = ParquetRows(self._root / f"{self._split}.parquet", features)
        self._parquet.write(row)

    def close(self) -> dict[str, Any]:
        if not self.c.embed_images:
            return super().close()
        if self._parquet is None:
            return {"file": None, "rows": 0, "images_embedded": 0}
        self._parquet.close()
        return {
            "file": self._parquet.path.name,
            "rows": self._parquet.rows,
            "images_embedded": self._embedded,
        }
