"""The ``openai`` policy: any OpenAI-compatible chat-completions server.

One :class:`OpenAIPolicy` per run holds the settings and one HTTP transport per event loop
(shared by all concurrent episodes; :mod:`vlmforge_openai.transport`: aiohttp direct, or the
official client); :class:`OpenAIEpisodePolicy` holds one episode's history. Each ``act`` sends
``[system, *history, user(observation)]`` with the environment's tools and returns a
:class:`~vlmforge.components.Decision` whose ``prompt`` is exactly what was sent (images by
sha256), ``reply`` the assistant message verbatim, and ``lm_call`` the usage, latency, finish
reason and every HTTP attempt. Provider failures raise :class:`~vlmforge.components.PolicyError`
(episode fails) or :class:`~vlmforge.components.FatalPolicyError` (bad key: the run stops),
carrying the failed step's decision. The API key is read from the environment once and is never
recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import time
import weakref
from typing import Any, ClassVar
from urllib.parse import urlsplit

from vlmforge.components import (
    Decision,
    EnvSpec,
    FatalPolicyError,
    Observation,
    PolicyError,
)
from vlmforge.errors import ConfigError
from vlmforge.prompting import PromptHistory, to_openai
from vlmforge.redaction import use_secret
from vlmforge.toolcalls import parse_tool_calls_from_text
from vlmforge.trace import LMCall, Message
from vlmforge_openai.config import OpenAIPolicyConfig
from vlmforge_openai.models import ModelQuirks, quirks_for, resolve_vision
from vlmforge_openai.reply import CompletionReply, parse_completion
from vlmforge_openai.retry import CallFailedError, RetrySettings, call_with_retries
from vlmforge_openai.transport import Transport, make_transport

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_BASE_URL_ENV = "OPENAI_BASE_URL"  # honoured like the official SDK honours it
NO_KEY_PLACEHOLDER = "EMPTY"  # sent when api_key_env = "" (vLLM/Ollama/llama.cpp without auth)
TOOL_CHOICE_KEYWORDS = ("auto", "required", "none")


def read_api_key(variable: str, policy: str) -> str | None:
    """The key in ``$variable`` (``None`` if ``variable`` is ""); errors name only the variable."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if value is None or not value.strip():
        state = "is not set" if value is None else "is empty"
        raise ConfigError(
            f"policy '{policy}': the API key variable {variable} {state}. Export it, load it "
            f"with --env-file, or set policy.api_key_env to the variable that holds your key "
            f'(api_key_env = "" for a server without authentication).'
        )
    use_secret(value)  # redacted wherever it appears in traces, logs and errors
    return value.strip()


def env_base_url(variable: str) -> str | None:
    """The server URL in ``$variable``, or ``None`` when unset or empty.

    Checked like ``base_url`` in a config: a value that is not an http(s) URL is an error
    naming the variable, not a silent fall-back to the default server.
    """
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"${variable} must be a server URL starting with http:// or https:// (it is set to "
            f"something else). Fix or unset {variable}, or set policy.base_url."
        )
    return value


def provider_label(base_url: str) -> str:
    """``openai`` for api.openai.com, otherwise the server's host[:port]."""
    host = urlsplit(base_url).netloc or base_url
    return "openai" if host == "api.openai.com" else host


class OpenAIPolicy:
    """``--policy openai``: a model behind any OpenAI-compatible ``base_url``."""

    config_model: ClassVar[type[OpenAIPolicyConfig]] = OpenAIPolicyConfig
    name: ClassVar[str] = "openai"

    def __init__(self, config: OpenAIPolicyConfig):
        self.config = config
        self._api_key = read_api_key(config.api_key_env, self.name)
        self.base_url = (config.base_url or self.default_base_url()).rstrip("/")
        self.provider = config.provider or self.default_provider()
        self.quirks: ModelQuirks = quirks_for(config.model, config.quirks.model_dump())
        self.use_vision, self.vision_source = resolve_vision(config.model, config.use_vision)
        self.max_tokens = config.max_tokens or self.quirks.default_max_tokens
        self.system_prompt = self._load_system_prompt()
        self.retry = RetrySettings(
            max_retries=config.max_retries,
            backoff_s=config.retry_backoff_s,
            backoff_max_s=config.retry_backoff_max_s,
            retry_after_max_s=config.retry_after_max_s,
            timeout_s=config.timeout,
        )
        self._transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Transport]
        self._transports = weakref.WeakKeyDictionary()

    # -- presets override these -----------------------------------------------------------
    def default_base_url(self) -> str:
        """``$OPENAI_BASE_URL`` when set (as the official SDK does), else OpenAI's URL."""
        return env_base_url(OPENAI_BASE_URL_ENV) or OPENAI_BASE_URL

    def default_provider(self) -> str:
        return provider_label(self.base_url)

    # -- Policy protocol ------------------------------------------------------------------
    async def start_episode(self, env: EnvSpec, seed: int) -> OpenAIEpisodePolicy:
        self._check_tool_choice(env)
        return OpenAIEpisodePolicy(self, env, seed)

    def describe(self) -> dict[str, Any]:
        """The settings as configured plus what they resolved to. Never the key itself."""
        settings = self.config.model_dump(mode="json")
        settings["resolved"] = {
            "base_url": self.base_url,
            "provider": self.provider,
            "use_vision": self.use_vision,
            "use_vision_source": self.vision_source,
            "max_tokens": self.max_tokens,
            "quirks": dataclasses.asdict(self.quirks),
            "system_prompt": self.system_prompt,
        }
        return settings

    def model_name(self) -> str | None:
        return self.config.model

    async def aclose(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        transport = self._transports.pop(loop, None) if loop is not None else None
        self._transports.clear()  # transports of finished loops die with their loop
        if transport is not None:
            await transport.aclose()

    # -- requests -------------------------------------------------------------------------
    def transport(self) -> Transport:
        """The ``http_client`` stack for the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        found = self._transports.get(loop)
        if found is None:
            found = make_transport(
                self.config.http_client,
                self.base_url,
                self._api_key or NO_KEY_PLACEHOLDER,
                self.config.timeout,
            )
            self._transports[loop] = found
        return found

    def request_params(self, env: EnvSpec) -> dict[str, Any]:
        """Every request field except messages and tools, exactly as sent (recorded per call)."""
        cfg = self.config
        params: dict[str, Any] = {"model": cfg.model, self.quirks.max_tokens_param: self.max_tokens}
        if cfg.temperature is not None:
            params["temperature"] = cfg.temperature
        if cfg.top_p is not None:
            params["top_p"] = cfg.top_p
        if cfg.seed is not None:
            params["seed"] = cfg.seed
        if cfg.reasoning_effort is not None:
            params["reasoning_effort"] = cfg.reasoning_effort
        if env.tools:
            params["tool_choice"] = self._tool_choice_value()
            if cfg.parallel_tool_calls is not None and self.quirks.parallel_tool_calls:
                params["parallel_tool_calls"] = cfg.parallel_tool_calls
        if cfg.extra_body:
            params["extra_body"] = dict(cfg.extra_body)
        return params

    async def complete(
        self,
        prompt: list[Message],
        wire: list[dict[str, Any]],
        env: EnvSpec,
        *,
        step: int,
        rng: random.Random,
    ) -> Decision:
        """Send one request (with retries) and turn the reply into a Decision."""
        params = self.request_params(env)
        transport = self.transport()
        body = request_body(wire, env.tools, params)

        async def send() -> CompletionReply:
            return parse_completion(await transport.post(body))

        started = time.perf_counter()
        try:
            reply, attempts = await call_with_retries(
                send, self.retry, secret=self._api_key, rng=rng
            )
        except CallFailedError as failed:
            raise self._failure(failed, prompt, params, time.perf_counter() - started) from None
        latency = time.perf_counter() - started
        return self._decision(reply, prompt, params, attempts, latency, step)

    # -- internals ------------------------------------------------------------------------
    def _decision(
        self,
        received: CompletionReply,
        prompt: list[Message],
        params: dict[str, Any],
        attempts: list[Any],
        latency: float,
        step: int,
    ) -> Decision:
        native = received.tool_calls
        reply = Message(role="assistant", content=received.content, tool_calls=native or None)
        tool_calls, from_text = native, False
        if not native and self.config.parse_text_tool_calls and received.content:
            tool_calls = parse_tool_calls_from_text(received.content, id_prefix=f"text{step}")
            from_text = bool(tool_calls)
        error = None if tool_calls else self._no_tool_call_reason(received)
        lm_call = LMCall(
            provider=self.provider,
            model=received.model or self.config.model,
            params=params,
            finish_reason=received.finish_reason,
            usage=received.usage,
            latency_s=latency,
            retries=len(attempts) - 1,
            attempts=attempts,
            error=error,
        )
        return Decision(
            prompt=prompt,
            reply=reply,
            tool_calls=tool_calls,
            parsed_from_text=from_text,
            lm_call=lm_call,
            error=error,
        )

    def _no_tool_call_reason(self, received: CompletionReply) -> str:
        finish = received.finish_reason
        if finish == "length":
            reasoning = received.reasoning_tokens
            spent = received.usage.completion_tokens
            used = f"{spent} completion tokens" if spent is not None else "the whole budget"
            if reasoning:
                used += f", {reasoning} of them reasoning"
            fix = "raise policy.max_tokens"
            if self.quirks.reasoning or reasoning:
                fix += ' or lower policy.reasoning_effort (e.g. "low")'
            return (
                f"the model hit its token limit ({self.quirks.max_tokens_param}="
                f"{self.max_tokens}) before calling a tool (finish_reason 'length', {used}); "
                f"{fix}."
            )
        if received.refusal:
            return f"the model refused: {received.refusal}"
        if finish == "content_filter":
            return (
                "the provider's content filter stopped the reply (finish_reason 'content_filter')."
            )
        if not received.content:
            return f"the reply has neither tool calls nor text (finish_reason {finish!r})."
        if self.config.parse_text_tool_calls:
            return "the reply has no tool calls and no tool call parses from its text."
        return "the reply is text without tool calls (parse_text_tool_calls is off)."

    def _failure(
        self, failed: CallFailedError, prompt: list[Message], params: dict[str, Any], latency: float
    ) -> PolicyError:
        failure = failed.failure
        if failure.kind == "quota":
            message = (
                f"{self.provider} says the account has no quota left: {failed.reason}. Add credit "
                f"or use another key. Stopping the run."
            )
        elif failure.fatal:
            where = f"${self.config.api_key_env}" if self.config.api_key_env else "no key"
            message = (
                f"{self.provider} refused the credentials ({where}): {failed.reason}. Check the "
                f"key, or set policy.api_key_env to the variable that holds the right one. "
                f"Stopping the run."
            )
        else:
            message = (
                f"{self.provider} call failed for model '{self.config.model}': {failed.reason}"
            )
        lm_call = LMCall(
            provider=self.provider,
            model=self.config.model,
            params=params,
            latency_s=latency,
            retries=max(0, len(failed.attempts) - 1),
            attempts=failed.attempts,
            error=message,
        )
        decision = Decision(
            prompt=prompt, reply=None, tool_calls=[], lm_call=lm_call, error=message
        )
        error_type = FatalPolicyError if failure.fatal else PolicyError
        return error_type(message, decision=decision)

    def _tool_choice_value(self) -> str | dict[str, Any]:
        choice = self.config.tool_choice
        if choice in TOOL_CHOICE_KEYWORDS:
            return choice
        return {"type": "function", "function": {"name": choice}}

    def _check_tool_choice(self, env: EnvSpec) -> None:
        choice = self.config.tool_choice
        if choice in TOOL_CHOICE_KEYWORDS:
            return
        names = [t.get("function", {}).get("name") for t in env.tools]
        if choice not in names:
            raise FatalPolicyError(
                f"policy.tool_choice = {choice!r} is not a tool of environment '{env.name}' "
                f"(tools: {', '.join(map(str, names)) or 'none'}); use auto, required, none or "
                f"one of those names."
            )

    def _load_system_prompt(self) -> str | None:
        cfg = self.config
        if cfg.system_prompt_file is None:
            return cfg.system_prompt
        path = cfg.system_prompt_file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(
                f"policy.system_prompt_file: cannot read '{path}': {reason}."
            ) from None
        if not text.strip():
            raise ConfigError(f"policy.system_prompt_file: '{path}' is empty.")
        return text


class OpenAIEpisodePolicy:
    """One episode: the prompt history and a seeded RNG (for retry jitter)."""

    def __init__(self, policy: OpenAIPolicy, env: EnvSpec, seed: int):
        self.policy, self.env = policy, env
        self.history = PromptHistory(policy.config.history, policy.config.history_k)
        self.rng = random.Random(seed)
        self.steps = 0

    async def act(self, observation: Observation) -> Decision:
        self.steps += 1
        cfg = self.policy.config
        prompt = self.history.build(
            self.env,
            observation,
            system_prompt=self.policy.system_prompt,
            use_vision=self.policy.use_vision,
            detail=cfg.image_detail,
        )
        wire = to_openai(prompt, self.history.images(observation))
        decision = await self.policy.complete(prompt, wire, self.env, step=self.steps, rng=self.rng)
        self.history.record(prompt[-1], decision.reply, decision.tool_calls, observation.images)
        return decision


def request_body(
    wire: list[dict[str, Any]], tools: list[dict[str, Any]], params: dict[str, Any]
) -> dict[str, Any]:
    """The JSON body sent: messages, tools, the params, and extra_body's fields merged in."""
    body: dict[str, Any] = {"messages": wire}
    if tools:
        body["tools"] = tools
    body.update((k, v) for k, v in params.items() if k != "extra_body")
    body.update(params.get("extra_body", {}))
    return body
