"""``trl``: what TRL's SFTTrainer loads for vision-language models.

Step rows: ``{"prompt": [...], "completion": [...], "images": [...], "metadata": "<json>"}``;
episode rows: ``{"messages": [...], "images": [...], "metadata": "<json>"}``. Every ``content`` is a
list of parts (``{"type": "text", "text": ...}`` or ``{"type": "image"}`` placeholders, one per
entry of ``images``, in order), so Arrow sees one type; ``images`` are paths of PNG files written
once under ``images/`` (relative to the export directory unless ``absolute_paths``); ``metadata``
is a JSON string (a stable column type however large the file). The assistant's tool calls are
rendered as text (``tool_call_format``), since VLM chat templates train on the text they emit.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from vlmforge.config import StrictModel
from vlmforge.dataset.rows import Example
from vlmforge.prompting import map_parts, text_part
from vlmforge.trace import ImagePart, Message
from vlmforge_exporters.files import JsonLinesImageExporter


class TRLConfig(StrictModel):
    tool_call_format: Literal["hermes", "json"] = Field(
        "hermes",
        description='hermes: <tool_call>{"name": ..., "arguments": {...}}</tool_call> blocks '
        "(Qwen's format) after the reply's text; json: the calls as one JSON list.",
    )
    image_dir: str = Field("images", min_length=1, description="Folder for the PNG files.")
    absolute_paths: bool = Field(False, description="Write absolute image paths.")


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
    """``{split}.jsonl`` + ``images/`` for TRL."""

    config_model = TRLConfig
    c: TRLConfig

    def _message(self, msg: Message, example: Example, images: list[str]) -> dict[str, Any]:
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
        images: list[str] = []
        msgs = [self._message(m, example, images) for m in example.messages]
        if self.c.absolute_paths:
            images = [str((self._root / p).resolve()) for p in images]
        meta = json.dumps(example.metadata)
        multi_turn = sum(1 for m in example.messages if m.role == "assistant") > 1
        if multi_turn or not msgs or msgs[-1]["role"] != "assistant":
            return {"messages": msgs, "images": images, "metadata": meta}
        return {"prompt": msgs[:-1], "completion": msgs[-1:], "images": images, "metadata": meta}
