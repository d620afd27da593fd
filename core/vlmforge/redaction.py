"""Keeping secrets out of traces, logs and exports.

Applied by the trace store to everything it writes, by the eval session to the run's recorded
settings, and by ``vlmforge serve`` to its access log. What is redacted:

- by key: values under keys that name a secret (``api_key``, ``authorization``, ``password``,
  ...) in settings dicts are replaced with ``"[redacted]"``;
- by value: the credentials this process actually uses, wherever they occur in text. A component
  that resolves a key calls :func:`use_secret` (or reads it with :func:`read_secret_env`);
  settings that name where a key comes from (``api_key_env = "MY_KEY"``) or hold one
  (``api_key = "..."``) are remembered by :func:`remember_config_secrets` when a run is
  described. Values shorter than :data:`MIN_SECRET_CHARS` are not replaced in text (replacing
  ``"abc"`` everywhere would rewrite ordinary data);
- by shape: strings shaped like API keys (``sk-...``, ``Bearer ...``, ``hf_...``) anywhere.

Other environment variables are never looked at: ``DEMO_TOKEN=move_left`` in the environment
does not rewrite the action ``move_left`` in a trace.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8

_SECRET_KEY = re.compile(
    r"(api[_-]?key|secret|password|passwd|authorization|bearer|access[_-]?token|auth[_-]?token|"
    r"credential|private[_-]?key|x-api-key)",
    re.IGNORECASE,
)
_NOT_SECRET_SUFFIXES = ("_env", "_var", "_file", "_name")
_SOURCE_SUFFIXES = ("_env", "_var")  # settings naming the environment variable of a secret
_KEY_SHAPED = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{16,}|\b[Bb]earer\s+[A-Za-z0-9._\-]{12,}|\bhf_[A-Za-z0-9]{30,}"
)

_lock = threading.Lock()
_in_use: set[str] = set()
_sorted: tuple[str, ...] = ()


def is_secret_key(key: str) -> bool:
    """True for setting names that hold secrets (``api_key``, ``Authorization``, ...).

    Names of where a secret comes from (``api_key_env``, ``api_key_file``) are not secrets.
    """
    if key.lower().endswith(_NOT_SECRET_SUFFIXES):
        return False
    return bool(_SECRET_KEY.search(key))


def is_secret_source_key(key: str) -> bool:
    """True for setting names that name the environment variable of a secret (``api_key_env``)."""
    lowered = key.lower()
    for suffix in _SOURCE_SUFFIXES:
        if lowered.endswith(suffix):
            return bool(_SECRET_KEY.search(lowered[: -len(suffix)]))
    return False


def use_secret(value: str | None) -> None:
    """Remember ``value`` as a credential this process uses: from now on it is redacted wherever
    it appears in stored text, logs and errors (values under 8 characters only by key)."""
    if value is None:
        return
    value = value.strip()
    if len(value) < MIN_SECRET_CHARS:
        return
    global _sorted
    with _lock:
        if value not in _in_use:
            _in_use.add(value)
            _sorted = tuple(sorted(_in_use, key=len, reverse=True))


def read_secret_env(variable: str) -> str | None:
    """The stripped value of environment variable ``variable`` (None when unset or empty),
    remembered with :func:`use_secret`."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    use_secret(value)
    return value


def secrets_in_use() -> tuple[str, ...]:
    """The credentials remembered by :func:`use_secret`, longest first."""
    return _sorted


def forget_secrets() -> None:
    """Forget every remembered credential (a fresh process; tests use this)."""
    global _sorted
    with _lock:
        _in_use.clear()
        _sorted = ()


def remember_config_secrets(settings: Any) -> None:
    """Remember the secrets a settings structure holds (``api_key = "..."``) or names
    (``api_key_env = "MY_KEY"``: the value of ``$MY_KEY``)."""
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            if isinstance(value, str) and is_secret_key(str(key)):
                use_secret(value)
            elif isinstance(value, str) and value and is_secret_source_key(str(key)):
                use_secret(os.environ.get(value))
            else:
                remember_config_secrets(value)
    elif isinstance(settings, list | tuple):
        for value in settings:
            remember_config_secrets(value)


def redact_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with the secrets in use (or ``secrets``) and key-shaped strings replaced."""
    for value in secrets_in_use() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    if "sk-" in text or "earer" in text or "hf_" in text:
        text = _KEY_SHAPED.sub(REDACTED, text)
    return text


def redact_config(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """A copy of a settings structure with secret keys' values and secret strings redacted."""
    secrets = secrets_in_use() if secrets is None else tuple(secrets)
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if is_secret_key(str(k)) and v not in (None, "")
            else redact_config(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_config(v, secrets) for v in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value
