"""Building the messages a policy sends, and turning stored messages into OpenAI wire format.

One prompt builder serves every policy (API models, the local ``hf`` policy, and the non-model
random/scripted policies, which record the prompt a model would have seen) so that every step
exports the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from vlmforge.components import EnvSpec, Observation
from vlmforge.images import PngImage, png_data_url
from vlmforge.trace import ImagePart, Message, TextPart, ToolCall

T = TypeVar("T")


def observation_message(
    obs: Observation,
    *,
    use_vision: bool = True,
    detail: str | None = None,
    preface: str | None = None,
) -> Message:
    """The user turn for one observation: preface, feedback, text, then the frames (oldest first).

    ``preface`` is text put first (e.g. the recent actions from :class:`PromptHistory`).
    """
    parts: list[TextPart | ImagePart] = []
    if preface:
        parts.append(TextPart(text=preface))
    if obs.feedback:
        parts.append(TextPart(text=obs.feedback))
    if obs.text:
        parts.append(TextPart(text=obs.text))
    if use_vision:
        parts.extend(ImagePart(sha256=img.sha256, detail=detail) for img in obs.images)
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
    preface: str | None = None,
) -> list[Message]:
    """[system, *history, user(observation)]; ``preface`` opens the user turn."""
    system = Message(role="system", content=system_prompt or spec.system_prompt)
    user = observation_message(obs, use_vision=use_vision, detail=detail, preface=preface)
    return [system, *history, user]


def tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
    }


def map_parts(
    parts: Iterable[TextPart | ImagePart],
    text: Callable[[TextPart], T],
    image: Callable[[ImagePart], T],
) -> list[T]:
    """Each part of a message's content through ``text`` or ``image``, in order."""
    return [text(p) if isinstance(p, TextPart) else image(p) for p in parts]


def text_part(part: TextPart) -> dict[str, Any]:
    return {"type": "text", "text": part.text}


def chat_messages(
    messages: Sequence[Message],
    *,
    image: Callable[[ImagePart], dict[str, Any]],
    tool_call: Callable[[ToolCall], dict[str, Any]] = tool_call_to_openai,
    names: bool = True,
) -> list[dict[str, Any]]:
    """Stored messages -> chat-message dicts, walked part by part.

    String content is kept verbatim; a list of parts becomes text parts and ``image(part)`` for
    each image (called in order). Tool calls go through ``tool_call``; ``tool_call_id`` and (with
    ``names``) ``name`` are copied when set.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        item: dict[str, Any] = {"role": msg.role}
        if isinstance(msg.content, list):
            item["content"] = map_parts(msg.content, text_part, image)
        else:
            item["content"] = msg.content
        if msg.tool_calls:
            item["tool_calls"] = [tool_call(c) for c in msg.tool_calls]
        if msg.tool_call_id:
            item["tool_call_id"] = msg.tool_call_id
        if names and msg.name:
            item["name"] = msg.name
        out.append(item)
    return out


def to_openai(
    messages: Sequence[Message], image_bytes: Callable[[str], bytes] | Mapping[str, PngImage]
) -> list[dict[str, Any]]:
    """Stored messages -> OpenAI chat messages with ``data:image/png;base64,`` image URLs.

    ``image_bytes`` resolves a sha256 to PNG bytes: a store's ``image`` method, or a mapping of
    the observation's :class:`PngImage` objects.
    """
    resolve: Callable[[str], bytes]
    if isinstance(image_bytes, Mapping):
        images = image_bytes

        def png(sha: str) -> bytes:
            return images[sha].png

        resolve = png
    else:
        resolve = image_bytes

    def image_url_part(part: ImagePart) -> dict[str, Any]:
        image_url: dict[str, Any] = {"url": png_data_url(resolve(part.sha256))}
        if part.detail:
            image_url["detail"] = part.detail
        return {"type": "image_url", "image_url": image_url}

    return chat_messages(messages, image=image_url_part)


# -- history -------------------------------------------------------------------------------
HistoryMode = Literal["none", "tool_calls", "turns"]
HISTORY_MODES: tuple[str, ...] = get_args(HistoryMode)
TOOL_RESULT_OK = "ok"


@dataclass
class Turn:
    """One past decision: the user turn the model saw, its reply and the calls executed."""

    number: int  # 1-based decision number within the episode
    user: Message
    reply: Message | None
    tool_calls: list[ToolCall]
    images: dict[str, PngImage] = field(default_factory=dict)
    result: str | None = None  # the tool result: the next observation's feedback, or "ok"


class PromptHistory:
    """Per-episode memory of past decisions, rendered into the next prompt. Shared by policies.

    Modes:

    - ``"tool_calls"`` (default): the last ``k`` executed tool calls as text, put first in the
      current user turn (``Recent actions (oldest first): ...``). Cheap: no old frames.
    - ``"turns"``: the last ``k`` full turns as chat messages (user observation with its frames,
      the assistant reply verbatim, and one ``tool`` result message per native tool call, whose
      content is the next observation's feedback or ``"ok"``), between system and current user.
    - ``"none"`` (or ``k == 0``): no history.

    Use it as ``prompt = history.build(spec, obs, ...)``, send ``prompt`` (resolve images with
    ``history.images(obs)``), then ``history.record(prompt[-1], reply, tool_calls, obs.images)``.
    """

    def __init__(self, mode: HistoryMode = "tool_calls", k: int = 3):
        if mode not in HISTORY_MODES:
            raise ValueError(
                f"history mode must be one of {', '.join(HISTORY_MODES)}, got {mode!r}"
            )
        if k < 0:
            raise ValueError(f"history length k must be >= 0, got {k}")
        self.mode, self.k = mode, k
        self._turns: list[Turn] = []
        self._count = 0

    @property
    def turns(self) -> list[Turn]:
        """The turns kept (at most ``k``), oldest first."""
        return list(self._turns)

    def record(
        self,
        user: Message,
        reply: Message | None,
        tool_calls: Sequence[ToolCall],
        images: Iterable[PngImage] = (),
    ) -> None:
        """Remember one decision (call after each model reply, valid or not)."""
        self._count += 1
        if self.mode == "none" or self.k == 0:
            return
        # Keep only the frames the stored user turn references (none without vision).
        wanted = set(user.image_hashes())
        kept = {img.sha256: img for img in images if img.sha256 in wanted}
        self._turns.append(Turn(self._count, user, reply, list(tool_calls), kept))
        del self._turns[: -self.k]

    def preface(self) -> str | None:
        """``"tool_calls"`` mode: the recent actions as text (else, or if empty, ``None``)."""
        if self.mode != "tool_calls" or not self._turns:
            return None
        lines = ["Recent actions (oldest first):"]
        for turn in self._turns:
            if turn.tool_calls:
                calls = "; ".join(
                    f"{c.function.name}({c.function.arguments})" for c in turn.tool_calls
                )
            else:
                calls = "(no valid tool call)"
            lines.append(f"- step {turn.number}: {calls}")
        return "\n".join(lines)

    def messages(self, next_feedback: str | None = None) -> list[Message]:
        """``"turns"`` mode: the last ``k`` turns as chat messages (``[]`` in other modes).

        ``next_feedback`` is the feedback on the most recent turn, carried by the observation
        that followed it; it becomes that turn's tool result.
        """
        if self.mode != "turns":
            return []
        if self._turns and self._turns[-1].result is None:
            self._turns[-1].result = next_feedback or TOOL_RESULT_OK
        out: list[Message] = []
        for turn in self._turns:
            out.append(turn.user)
            if turn.reply is None or (not turn.reply.content and not turn.reply.tool_calls):
                continue  # nothing was said (an empty assistant turn is rejected by servers)
            out.append(turn.reply)
            for call in turn.reply.tool_calls or []:
                out.append(
                    Message(
                        role="tool",
                        tool_call_id=call.id,
                        content=turn.result or TOOL_RESULT_OK,
                    )
                )
        return out

    def images(self, obs: Observation | None = None) -> dict[str, PngImage]:
        """sha256 -> image for every frame the next prompt can reference (history + ``obs``)."""
        found: dict[str, PngImage] = {}
        for turn in self._turns:
            found.update(turn.images)
        if obs is not None:
            found.update((img.sha256, img) for img in obs.images)
        return found

    def build(
        self,
        spec: EnvSpec,
        obs: Observation,
        *,
        system_prompt: str | None = None,
        use_vision: bool = True,
        detail: str | None = None,
    ) -> list[Message]:
        """The prompt for ``obs`` with this history: ``[system, *turns, user]``."""
        return build_prompt(
            spec,
            obs,
            history=self.messages(next_feedback=obs.feedback),
            system_prompt=system_prompt,
            use_vision=use_vision,
            detail=detail,
            preface=self.preface(),
        )
