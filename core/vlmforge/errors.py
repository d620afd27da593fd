"""User-facing errors.

Every error a user can fix derives from :class:`VlmforgeError`. The CLI prints its message (one
screen, no traceback) and exits non-zero. Messages name the problem and the fix: the file, the
key path or the flag, and what was expected. They never contain secrets.
"""

from __future__ import annotations


class VlmforgeError(Exception):
    """An error the user can act on. The CLI prints ``str(err)`` and exits with ``exit_code``."""

    exit_code = 1


class ConfigError(VlmforgeError):
    """A config file, flag or value is invalid (bad TOML, unknown key, wrong type, bad seeds)."""

    exit_code = 2


class UnknownComponentError(ConfigError):
    """A component name (``--env``, ``--policy``, ...) is not registered by any loaded plugin."""


class ComponentUnavailableError(VlmforgeError):
    """A registered component cannot be used because an optional dependency is missing."""


class DuplicateComponentError(VlmforgeError):
    """Two plugins registered a component of the same kind under the same name."""


class RunExistsError(VlmforgeError):
    """A store's ``create_run`` was given a name the store already holds (another process may
    have created it a moment earlier: ``--resume`` then continues that run)."""
