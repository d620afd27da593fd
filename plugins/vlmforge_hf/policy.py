"""The ``hf`` policy: a local transformers VLM (base + optional LoRA adapter) as a policy.

It builds the same prompt as the API policies (:class:`vlmforge.prompting.PromptHistory`),
renders it with the model's chat template exactly as training did (tools in the system turn),
batches concurrent episodes' requests into one ``generate`` call, keeps the generated text
verbatim as the reply and executes only the tool calls that parse from it
(:func:`vlmforge.toolcalls.parse_tool_calls_from_text`). Text with no parseable call gives no
tool call: the environment records an invalid decision; nothing is invented.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

from vlmforge.components import Decision, EnvSpec, Observation, PolicyError
from vlmforge.images import PngImage
from vlmforge.prompting import PromptHistory, chat_messages
from vlmforge.toolcalls import parse_tool_calls_from_text
from vlmforge.trace import ImagePart, LMCall, Message, ToolCall, Usage
from vlmforge_hf.batcher import Batcher, Request
from vlmforge_hf.config import HFPolicyConfig
from vlmforge_hf.generate import Generation, generate_batch
from vlmforge_hf.loader import LoadedModel, load
from vlmforge_lora_sft.rendering import render_prompt


def template_messages(
    prompt: list[Message], images: dict[str, PngImage]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Stored prompt messages -> chat-template messages and the PIL images, in order."""
    from PIL import Image

    pil: list[Any] = []

    def image_placeholder(part: ImagePart) -> dict[str, Any]:
        pil.append(Image.open(io.BytesIO(images[part.sha256].png)).convert("RGB"))
        return {"type": "image"}

    out = chat_messages(prompt, image=image_placeholder, tool_call=_template_call, names=False)
    return out, pil


def _template_call(call: ToolCall) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": call.function.name, "arguments": _arguments(call)},
    }


def _arguments(call: Any) -> Any:
    """Arguments as a dict when they are a JSON object (as in training data), else verbatim."""
    try:
        parsed = json.loads(call.function.arguments)
    except json.JSONDecodeError:
        return call.function.arguments
    return parsed if isinstance(parsed, dict) else call.function.arguments


class HFEpisodePolicy:
    """One episode: the prompt history; generation goes through the policy's batcher."""

    def __init__(self, policy: HFPolicy, env: EnvSpec):
        self.policy, self.env = policy, env
        config = policy.config
        self.history = PromptHistory(config.history, config.history_k)
        self.calls = 0

    async def act(self, observation: Observation) -> Decision:
        config = self.policy.config
        prompt = self.history.build(
            self.env,
            observation,
            system_prompt=config.system_prompt,
            use_vision=config.use_vision,
        )
        messages, images = template_messages(prompt, self.history.images(observation))
        tools = self.env.tools if config.tools_in_prompt and self.env.tools else None
        text = render_prompt(self.policy.loaded.processor, messages, tools)
        started = time.perf_counter()
        try:
            generation: Generation = await self.policy.batcher.submit(text, images)
        except (RuntimeError, ValueError) as exc:  # e.g. out of memory: this episode fails
            raise PolicyError(f"hf generate failed: {exc}") from exc
        latency = time.perf_counter() - started
        self.calls += 1
        reply = Message(role="assistant", content=generation.text)
        tool_calls = parse_tool_calls_from_text(generation.text, id_prefix=f"call_{self.calls}")
        lm_call = LMCall(
            provider="hf",
            model=self.policy.model_name() or "",
            params=self.policy.generation_params() | {"batch_size": generation.batch_size},
            finish_reason=generation.finish_reason,
            usage=Usage(
                prompt_tokens=generation.prompt_tokens,
                completion_tokens=generation.completion_tokens,
                total_tokens=generation.prompt_tokens + generation.completion_tokens,
            ),
            latency_s=latency,
        )
        self.history.record(prompt[-1], reply, tool_calls, observation.images)
        return Decision(
            prompt=prompt,
            reply=reply,
            tool_calls=tool_calls,
            parsed_from_text=bool(tool_calls),
            lm_call=lm_call,
        )


class HFPolicy:
    """``--policy hf``: base model + optional adapter, generating locally on CPU or GPU."""

    config_model = HFPolicyConfig

    def __init__(self, config: HFPolicyConfig):
        self.config = config
        self.loaded: LoadedModel = load(
            config.model,
            config.adapter,
            device=config.device,
            dtype=config.dtype,
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
        )
        self.batcher = Batcher(self._run_batch, config.batch_size, config.batch_wait_ms / 1000)

    def _run_batch(self, requests: list[Request]) -> list[Generation]:
        return generate_batch(
            self.loaded,
            requests,
            max_new_tokens=self.config.max_new_tokens,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            seed=self.config.seed,
        )

    async def start_episode(self, env: EnvSpec, seed: int) -> HFEpisodePolicy:
        return HFEpisodePolicy(self, env)

    def generation_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_new_tokens": self.config.max_new_tokens}
        if self.config.temperature > 0:
            params.update(temperature=self.config.temperature, top_p=self.config.top_p)
        else:
            params["greedy"] = True
        return params

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump() | {
            "resolved_base": self.loaded.base,
            "resolved_adapter": self.loaded.adapter,
            "resolved_device": self.loaded.device,
            "resolved_dtype": self.loaded.dtype,
        }

    def model_name(self) -> str | None:
        if self.loaded.adapter:
            return f"{self.loaded.base}+{self.loaded.adapter}"
        return self.loaded.base

    async def aclose(self) -> None:
        await self.batcher.aclose()
