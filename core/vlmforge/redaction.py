"""Keeping secrets out of traces, logs and exports.

Two layers, both applied by the trace store to everything it writes and by the eval runner to the
run's recorded settings:

- by key: values under keys that name a secret (``api_key``, ``authorization``, ``password``,
  ...) in settings dicts are replaced with ``"[redacted]"``;
- by value: the values of environment variables that hold secrets (names ending in ``_KEY``,
  ``_TOKEN``, ``_SECRET``, ``_PASSWORD``; at least 8 characters) and strings shaped like API keys
  (``sk-...``, ``Bearer ...``) are replaced wherever they occur in text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"(api[_-]?key|secret|password|passwd|authorization|bearer|access[_-]?token|auth[_-]?token|"
    r"credential|private[_-]?key|x-api-key)",
    re.IGNORECASE,
)
_NOT_SECRET_SUFFIXES = ("_env", "_var", "_file", "_name")
_SECRET_ENV_NAME = re.compile(r"(_KEY|_TOKEN|_SECRET|_PASSWORD|_PASS)$|^(API_KEY|TOKEN)$")
_KEY_SHAPED = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}|\b[Bb]earer\s+[A-Za-z0-9._\-]{12,}")


def is_secret_key(key: str) -> bool:
    """True for setting names that hold secrets (``api_key``, ``Authorization``, ...).

    Names of where a secret comes from (``api_key_env``, ``api_key_file``) are not secrets.
    """
    if key.lower().endswith(_NOT_SECRET_SUFFIXES):
        return False
    return bool(_SECRET_KEY.search(key))


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables (8+ characters), longest first."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_ENV_NAME.search(k.upper()) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with secret values and key-shaped strings replaced by ``[redacted]``."""
    for value in secret_values() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    if "sk-" in text or "earer" in text:
        text = _KEY_SHAPED.sub(REDACTED, text)
    return text


def redact_config(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of a settings structure with secret keys' values and secret strings redacted."""
    secrets = secret_values() if secrets is None else secrets
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
