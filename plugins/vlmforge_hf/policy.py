"""The ``hf`` policy: a local transformers VLM (base + optional LoRA adapter) as a policy.

It builds the same prompt as the API policies (:class:`vlmforge.prompting.PromptHistory`),
renders it with the model's chat template exactly as training did, batches concurrent episodes'
requests into one forward pass, and decides in one of three ways (``decoding``):

- ``score`` (default): every valid decision the environment's tools allow is rendered as the
  assistant turn the model was trained to write; the model's log-likelihood of each ranks them
  and one is taken (the best at temperature 0, else sampled). Valid by construction.
- ``constrained``: ``generate`` restricted by a grammar of the valid tool calls. Valid by
  construction.
- ``free``: plain ``generate``; only the tool calls that parse from the text are executed.

In every mode the reply is recorded verbatim (the generated text, or the chosen candidate's
text with its log-probability in the LM call), the mode is in the LM call's params, and nothing
is invented: text with no parseable call gives no tool call and the environment records an
invalid decision.
"""

from __future__ import annotations

import copy
import io
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from vlmforge.components import Decision, EnvSpec, Observation, PolicyError
from vlmforge.images import PngImage
from vlmforge.prompting import PromptHistory, chat_messages
from vlmforge.toolcalls import parse_tool_calls_from_text
from vlmforge.trace import ImagePart, LMCall, Message, ToolCall, Usage
from vlmforge_hf.batcher import Batcher, Request
from vlmforge_hf.choices import ChoiceSet, assistant_turn, build_choices, decision_rng
from vlmforge_hf.config import HFPolicyConfig
from vlmforge_hf.generate import Generation, generate_group, run_groups, score_group
from vlmforge_hf.loader import LoadedModel, load, trained_prompt_tools
from vlmforge_hf.rendering import render_completion, render_prompt


def template_messages(
    prompt: list[Message], images: Mapping[str, PngImage] | Callable[[str], bytes]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Stored prompt messages -> chat-template messages and the PIL images, in order.

    ``images`` resolves a sha256: the observation's images, or a trace store's ``image``."""
    from PIL import Image

    pil: list[Any] = []

    def png(sha: str) -> bytes:
        return images[sha].png if isinstance(images, Mapping) else images(sha)

    def image_placeholder(part: ImagePart) -> dict[str, Any]:
        pil.append(Image.open(io.BytesIO(png(part.sha256))).convert("RGB"))
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
    """One episode: the prompt history; decisions go through the policy's batcher."""

    def __init__(self, policy: HFPolicy, env: EnvSpec, seed: int):
        self.policy, self.env, self.seed = policy, env, seed
        config = policy.config
        self.history = PromptHistory(config.history, config.history_k)
        self.calls = 0

    def render(self, observation: Observation) -> tuple[list[Message], str, list[Any], list]:
        """(prompt messages, the prompt text as the chat template renders it, PIL images,
        chat-template messages) for ``observation``, with this episode's history."""
        config = self.policy.config
        prompt = self.history.build(
            self.env,
            observation,
            system_prompt=config.system_prompt,
            use_vision=config.use_vision,
        )
        messages, images = template_messages(prompt, self.history.images(observation))
        text = render_prompt(
            self.policy.loaded.processor, messages, self.policy.prompt_tools(self.env)
        )
        return prompt, text, images, messages

    async def act(self, observation: Observation) -> Decision:
        policy = self.policy
        prompt, text, images, messages = self.render(observation)
        decode = policy.decode_data(self.env, messages)
        rng = decision_rng(policy.config.seed, self.seed, self.calls + 1)
        started = time.perf_counter()
        try:
            generation: Generation = await policy.batcher.submit(
                text, images, decode=decode, rng=rng
            )
        except (RuntimeError, ValueError) as exc:  # e.g. out of memory: this episode fails
            raise PolicyError(f"hf {policy.config.decoding} decoding failed: {exc}") from exc
        latency = time.perf_counter() - started
        self.calls += 1
        if isinstance(decode, ChoiceSet) and generation.choice is not None:
            policy.check_choice(decode, generation.choice, messages, self.env)
        reply = Message(role="assistant", content=generation.text)
        tool_calls = parse_tool_calls_from_text(generation.text, id_prefix=f"call_{self.calls}")
        params = policy.generation_params() | {"batch_size": generation.batch_size}
        if generation.candidates is not None:
            params["candidates"] = generation.candidates
        lm_call = LMCall(
            provider="hf",
            model=policy.model_name() or "",
            params=params,
            finish_reason=generation.finish_reason,
            usage=Usage(
                prompt_tokens=generation.prompt_tokens,
                completion_tokens=generation.completion_tokens,
                total_tokens=generation.prompt_tokens + generation.completion_tokens,
            ),
            latency_s=latency,
            logprob=generation.logprob,
            decision_logprob=generation.decision_logprob,
            error=generation.grammar_error,
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
    """``--policy hf``: base model + optional adapter, deciding locally on CPU or GPU."""

    config_model = HFPolicyConfig

    def __init__(self, config: HFPolicyConfig, loaded: LoadedModel | None = None):
        """``loaded``: an already loaded model (a trainer's, being trained) instead of loading
        ``config.model`` / ``config.adapter``."""
        self.config = config
        self.loaded: LoadedModel = loaded or load(
            config.model,
            config.adapter,
            device=config.device,
            dtype=config.dtype,
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
        )
        self.tools_in_prompt = (
            trained_prompt_tools(self.loaded)
            if config.tools_in_prompt == "auto"
            else bool(config.tools_in_prompt)
        )
        if config.decoding != "score":
            import torch

            torch.manual_seed(config.seed)  # once: later decisions draw fresh noise
        self._decode_cache: dict[str, Any] = {}
        self._ll_tokenizer: Any = None
        self.batcher = Batcher(self._run_batch, config.batch_size, config.batch_wait_ms / 1000)

    def view(self, seed: int) -> HFPolicy:
        """The same model, batcher and candidates with another sampling ``seed`` (several runs
        playing the same seeds with different draws, batched together)."""
        clone = copy.copy(self)
        clone.config = self.config.model_copy(update={"seed": seed})
        return clone

    # -- what each decision needs ----------------------------------------------------------
    def prompt_tools(self, env: EnvSpec) -> list[dict[str, Any]] | None:
        return env.tools if self.tools_in_prompt and env.tools else None

    def decode_data(self, env: EnvSpec, messages: list[dict[str, Any]]) -> Any:
        """The environment's candidates (score) or grammar (constrained), built once."""
        mode = self.config.decoding
        if mode == "free":
            return None
        key = json.dumps(env.tools, sort_keys=True)
        if key not in self._decode_cache:
            self._decode_cache[key] = self._build_decode(env, messages)
        return self._decode_cache[key]

    def _build_decode(self, env: EnvSpec, messages: list[dict[str, Any]]) -> Any:
        from vlmforge_hf.constrained import GrammarError, tool_call_grammar

        processor, cfg = self.loaded.processor, self.config
        try:
            if cfg.decoding == "score":
                return build_choices(
                    processor,
                    messages,
                    env.tools,
                    template_tools=self.prompt_tools(env),
                    only=cfg.tools,
                    max_actions=cfg.score_max_actions,
                )
            return tool_call_grammar(
                processor,
                messages,
                env.tools,
                template_tools=self.prompt_tools(env),
                only=cfg.tools,
            )
        except (ValueError, GrammarError) as exc:
            raise PolicyError(f"hf decoding = '{cfg.decoding}' on '{env.name}': {exc}") from exc

    def check_choice(
        self, choices: ChoiceSet, index: int, messages: list[dict[str, Any]], env: EnvSpec
    ) -> None:
        """The chosen candidate renders the same after this prompt as after the one the
        candidates were rendered with (true for Qwen-VL templates; checked every decision)."""
        again = render_completion(
            self.loaded.processor,
            messages,
            assistant_turn(choices.candidates[index]),
            self.prompt_tools(env),
        )
        if again != choices.completions[index]:
            raise PolicyError(
                "the chat template renders a tool call differently depending on the "
                "conversation before it, so decoding = 'score' cannot rank one fixed set of "
                "candidates; use decoding = 'constrained'"
            )

    # -- batches ---------------------------------------------------------------------------
    def _run_batch(self, requests: list[Request]) -> list[Generation]:
        cfg = self.config
        if cfg.decoding == "score":
            return run_groups(
                requests,
                lambda group: score_group(
                    self.loaded, group, temperature=cfg.temperature, top_p=cfg.top_p
                ),
            )
        return run_groups(requests, self._generate)

    def _generate(self, group: list[Request]) -> list[Generation]:
        cfg = self.config
        factory = None
        if cfg.decoding == "constrained":
            from vlmforge_hf.constrained import GrammarLogitsProcessor, ll_tokenizer

            if self._ll_tokenizer is None:
                width = self.loaded.model.get_output_embeddings().weight.shape[0]
                self._ll_tokenizer = ll_tokenizer(self.loaded.processor.tokenizer, width)
            grammar = group[0].decode

            def factory(batch: int) -> Any:
                return GrammarLogitsProcessor(self._ll_tokenizer, grammar, batch)

        return generate_group(
            self.loaded,
            group,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            logits_processor=factory,
        )

    # -- the Policy protocol ---------------------------------------------------------------
    async def start_episode(self, env: EnvSpec, seed: int) -> HFEpisodePolicy:
        return HFEpisodePolicy(self, env, seed)

    def generation_params(self) -> dict[str, Any]:
        cfg = self.config
        params: dict[str, Any] = {"decoding": cfg.decoding}
        if cfg.decoding != "score":
            params["max_new_tokens"] = cfg.max_new_tokens
        if cfg.temperature > 0:
            params.update(temperature=cfg.temperature, top_p=cfg.top_p)
        else:
            params["greedy"] = True
        if cfg.tools is not None:
            params["tools"] = list(cfg.tools)
        if cfg.decoding == "score" and cfg.score_max_actions > 1:
            params["score_max_actions"] = cfg.score_max_actions
        return params

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump() | {
            "resolved_base": self.loaded.base,
            "resolved_adapter": self.loaded.adapter,
            "resolved_device": self.loaded.device,
            "resolved_dtype": self.loaded.dtype,
            "resolved_tools_in_prompt": self.tools_in_prompt,
        }

    def model_name(self) -> str | None:
        if self.loaded.adapter:
            return f"{self.loaded.base}+{self.loaded.adapter}"
        return self.loaded.base

    async def aclose(self) -> None:
        await self.batcher.aclose()
