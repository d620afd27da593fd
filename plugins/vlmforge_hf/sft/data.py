"""Reading exported SFT datasets (``openai-sft`` and ``trl`` JSONL) into training examples.

Both formats become :class:`Example`: the prompt messages (chat-template form, images as
``{"type": "image"}`` placeholders), the assistant target (its text and tool calls, arguments
as dicts), the tool schemas and the decoded PIL images. A row that cannot be used raises
:class:`BadRowError` naming the file and line, or is skipped and counted when
``skip_bad_rows`` is set.

- ``openai-sft``: ``{"messages": [...], "tools": [...], "metadata": {...}}``; user parts
  ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` and
  ``{"type": "text", "text": ...}``; the LAST message is the assistant target, with
  ``tool_calls`` whose ``function.arguments`` is a JSON string.
- ``trl``: ``{"prompt": [...], "completion": [...], "images": [...], "tools": [...]}`` with
  ``{"type": "image"}`` placeholders; each image is a data URL or a path relative to the file.
  Earlier TRL-style rows with ``messages`` + ``images`` are read the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError, VlmforgeError
from vlmforge.images import decode_data_url

FORMATS = ("auto", "openai-sft", "trl")


class BadRowError(VlmforgeError):
    """A dataset row cannot be used for training; the message names file and line."""


@dataclass
class Example:
    """One training example: everything before the target turn, and the target turn."""

    prompt: list[dict[str, Any]]
    target: dict[str, Any]  # {"role": "assistant", "content": str|None, "tool_calls": [...]}
    images: list[Any]  # PIL images, in placeholder order
    tools: list[dict[str, Any]] | None = None
    source: str = ""  # "file:line"


@dataclass
class DatasetStats:
    """What reading one dataset file found."""

    path: str
    sha256: str
    rows: int = 0
    examples: int = 0
    skipped: int = 0
    skipped_reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "rows": self.rows,
            "examples": self.examples,
            "skipped": self.skipped,
            "skipped_reasons": self.skipped_reasons[:20],
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_dataset(
    path: str | Path, *, fmt: str = "auto", skip_bad_rows: bool = False
) -> tuple[list[Example], DatasetStats]:
    """All usable examples in a JSONL file, and counts. Raises BadRowError on the first bad
    row unless ``skip_bad_rows``; raises VlmforgeError if the file is missing or has none."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"dataset '{p}' not found. Export one with `vlmforge filter`.")
    stats = DatasetStats(path=str(p), sha256=file_sha256(p))
    examples: list[Example] = []
    for lineno, raw in _lines(p):
        stats.rows += 1
        source = f"{p}:{lineno}"
        try:
            line = _text(raw, source)
            examples.append(parse_row(line, fmt=fmt, base_dir=p.parent, source=source))
        except BadRowError as exc:
            if not skip_bad_rows:
                raise
            stats.skipped += 1
            stats.skipped_reasons.append(str(exc))
    stats.examples = len(examples)
    if not examples:
        raise VlmforgeError(
            f"dataset '{p}' has no usable rows ({stats.rows} rows, {stats.skipped} skipped)."
        )
    return examples, stats


def _lines(p: Path) -> Iterator[tuple[int, bytes]]:
    with p.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, line


def _text(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRowError(
            f"{source}: not UTF-8 text (byte {exc.start + 1} of the line); a dataset is a JSONL "
            "file such as the train.jsonl `vlmforge filter` writes."
        ) from None


def parse_row(line: str, *, fmt: str, base_dir: Path, source: str) -> Example:
    """One JSONL line -> Example; BadRowError("FILE:LINE: problem") on any problem."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRowError(f"{source}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
    if not isinstance(row, dict):
        raise BadRowError(f"{source}: a row must be a JSON object, got {type(row).__name__}.")
    try:
        if fmt == "openai-sft" or (fmt == "auto" and "messages" in row and "images" not in row):
            return _openai_row(row, source)
        if fmt == "trl" or (fmt == "auto" and ("prompt" in row or "messages" in row)):
            return _trl_row(row, base_dir, source)
        raise ValueError("expected 'messages' (openai-sft) or 'prompt'/'completion' (trl) keys")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRowError(f"{source}: {exc}") from None


def _openai_row(row: dict[str, Any], source: str) -> Example:
    messages = row.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError("'messages' must be a list with a prompt and an assistant target")
    images: list[Any] = []
    converted = [_openai_message(m, images) for m in messages]
    prompt, target = converted[:-1], converted[-1]
    _check_target(target)
    return Example(prompt, target, images, _tools(row.get("tools")), source)


def _openai_message(msg: Any, images: list[Any]) -> dict[str, Any]:
    if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant", "tool"):
        raise ValueError(f"bad message (role must be system/user/assistant/tool): {_short(msg)}")
    out: dict[str, Any] = {"role": msg["role"]}
    content = msg.get("content")
    if isinstance(content, list):
        parts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                parts.append({"type": "text", "text": str(part.get("text", ""))})
            elif kind == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                images.append(_image_from_data_url(url))
                parts.append({"type": "image"})
            else:
                raise ValueError(f"unsupported content part: {_short(part)}")
        out["content"] = parts
    elif content is None or isinstance(content, str):
        out["content"] = content
    else:
        raise ValueError(f"message content must be a string, a list of parts or null: {content!r}")
    if msg.get("tool_calls"):
        out["tool_calls"] = [_tool_call(c) for c in msg["tool_calls"]]
    if msg.get("tool_call_id"):
        out["tool_call_id"] = msg["tool_call_id"]
    return out


def _trl_row(row: dict[str, Any], base_dir: Path, source: str) -> Example:
    if "prompt" in row:
        prompt_msgs, completion = row.get("prompt"), row.get("completion")
        if not isinstance(prompt_msgs, list) or not isinstance(completion, list) or not completion:
            raise ValueError("'prompt' and 'completion' must be non-empty lists of messages")
        if len(completion) != 1:
            raise ValueError("'completion' must hold exactly one assistant message")
        messages = [*prompt_msgs, *completion]
    else:
        listed = row.get("messages")
        if not isinstance(listed, list) or len(listed) < 2:
            raise ValueError("'messages' must be a list with a prompt and an assistant target")
        messages = listed
    raw_images = row.get("images") or ([row["image"]] if row.get("image") else [])
    images = [_load_image(ref, base_dir) for ref in raw_images]
    converted = [_trl_message(m) for m in messages]
    placeholders = sum(
        1
        for m in converted
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if p.get("type") == "image"
    )
    if placeholders != len(images):
        raise ValueError(f"{placeholders} image placeholders but {len(images)} images")
    prompt, target = converted[:-1], converted[-1]
    _check_target(target)
    return Example(prompt, target, images, _tools(row.get("tools")), source)


def _trl_message(msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant", "tool"):
        raise ValueError(f"bad message (role must be system/user/assistant/tool): {_short(msg)}")
    out = dict(msg)
    content = msg.get("content")
    if isinstance(content, list):
        parts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "image":
                parts.append({"type": "image"})
            elif kind == "text":
                parts.append({"type": "text", "text": str(part.get("text", ""))})
            else:
                raise ValueError(f"unsupported content part: {_short(part)}")
        out["content"] = parts
    if msg.get("tool_calls"):
        out["tool_calls"] = [_tool_call(c) for c in msg["tool_calls"]]
    return out


def _tool_call(call: Any) -> dict[str, Any]:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise ValueError(f"tool call without function.name: {_short(call)}")
    args = fn.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"tool call arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(args, dict):
        raise ValueError(f"tool call arguments must be a JSON object, got {args!r}")
    return {"type": "function", "function": {"name": fn["name"], "arguments": args}}


def _check_target(target: dict[str, Any]) -> None:
    if target["role"] != "assistant":
        raise ValueError(f"the last message must be the assistant target, got '{target['role']}'")
    content = target.get("content")
    if isinstance(content, list):
        if any(p.get("type") != "text" for p in content):
            raise ValueError("the assistant target may not contain images")
        target["content"] = "".join(p["text"] for p in content) or None
    if not target.get("tool_calls") and not target.get("content"):
        raise ValueError("the assistant target has neither content nor tool_calls")


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if isinstance(tools, str):
        tools = json.loads(tools)
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ValueError("'tools' must be a list of tool schemas")
    return tools or None


def _image_from_data_url(url: str) -> Any:
    try:
        _mime, data = decode_data_url(url)
    except ValueError as exc:
        raise ValueError(f"image_url is not a base64 data URL ({exc}): {url[:40]!r}") from None
    return _decode_image(data)


def _load_image(ref: Any, base_dir: Path) -> Any:
    if isinstance(ref, dict):  # {"path": ...} or {"bytes": ...} as datasets writes them
        if ref.get("path"):
            ref = ref["path"]
        else:
            raise ValueError(f"unsupported image reference: {_short(ref)}")
    if not isinstance(ref, str):
        raise ValueError(f"an image must be a data URL or a file path, got {type(ref).__name__}")
    if ref.startswith("data:"):
        return _image_from_data_url(ref)
    path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
    try:
        return _decode_image(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read image '{path}': {exc.strerror or exc}") from None


def _decode_image(data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"image bytes do not decode: {exc}") from None
    return img.convert("RGB")


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."
