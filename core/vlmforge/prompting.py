"""Building the messages a policy sends, and turning stored messages into OpenAI wire format.

One prompt builder serves every policy (API models, the local ``hf`` policy, and the non-model
random/scripted policies, which record the prompt a model would have seen) so that every step
exports the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlmforge.components import EnvSpec, Observation
from vlmforge.images import PngImage, png_data_url
from vlmforge.trace import ImagePart, Message, TextPart, ToolCall


def observation_message(
    obs: Observation, *, use_vision: bool = True, detail: str | None = None
) -> Message:
    """The user turn for one observation: feedback, text, then the frames (oldest first)."""
    parts: list[TextPart | ImagePart] = []
    if obs.feedback:
        parts.append(TextPart(text=obs.feedback))
    if obs.text:
        parts.append(TextPart(text=obs.text))
    if use_vision:
        parts.extend(ImagePart(sha256=img.sha256, detail=detail) for img in obs.images)  # type: ignore[arg-type]
    if not parts:
        parts.append(TextPart(text="(no observation)"))
    return Message(role="user", content=parts)


def build_prompt(
    spec: EnvSpec,
    obs: Observation,
    *,
    history: Sequence[Message] = (),
    system_prompt: str | None = None,
    use_vision: bool = True,
    detail: str | None = None,
) -> list[Message]:
    """[system, *history, user(observation)]."""
    system = Message(role="system", content=system_prompt or spec.system_prompt)
    user = observation_message(obs, use_vision=use_vision, detail=detail)
    return [system, *history, user]


def tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
    }


def to_openai(
    messages: Sequence[Message], image_bytes: Callable[[str], bytes] | Mapping[str, PngImage]
) -> list[dict[str, Any]]:
    """Stored messages -> OpenAI chat messages with ``data:image/png;base64,`` image URLs.

    ``image_bytes`` resolves a sha256 to PNG bytes: a store's ``image`` method, or a mapping of
    the observation's :class:`PngImage` objects.
    """
    if isinstance(image_bytes, Mapping):
        images = image_bytes

        def resolve(sha: str) -> bytes:
            return images[sha].png
    else:
        resolve = image_bytes
    out: list[dict[str, Any]] = []
    for msg in messages:
        item: dict[str, Any] = {"role": msg.role}
        if isinstance(msg.content, list):
            parts: list[dict[str, Any]] = []
            for part in msg.content:
                if isinstance(part, TextPart):
                    parts.append({"type": "text", "text": part.text})
                else:
                    image_url: dict[str, Any] = {"url": png_data_url(resolve(part.sha256))}
                    if part.detail:
                        image_url["detail"] = part.detail
                    parts.append({"type": "image_url", "image_url": image_url})
            item["content"] = parts
        else:
            item["content"] = msg.content
        if msg.tool_calls:
            item["tool_calls"] = [tool_call_to_openai(c) for c in msg.tool_calls]
        if msg.tool_call_id:
            item["tool_call_id"] = msg.tool_call_id
        if msg.name:
            item["name"] = msg.name
        out.append(item)
    return out
