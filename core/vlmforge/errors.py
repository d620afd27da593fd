"""User-facing errors.

Every error a user can fix derives from :class:`VlmforgeError`. The CLI prints its message (one
screen, no traceback) and exits non-zero. Messages name the problem and the fix: the file, the
key path or the flag, and what was expected. They never contain secrets.
"""

from __future__ import annotations

import errno


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


class StorageFullError(VlmforgeError):
    """A disk (or a database's quota) filled up while writing; what was committed is intact.

    The message names what was being written and where; callers add what was kept and how to
    finish (``--resume``).
    """


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from or while handling, is a full disk:
    ``OSError`` ENOSPC/EDQUOT or SQLite's ``SQLITE_FULL`` (any driver that keeps the code)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if "database or disk is full" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


class RunExistsError(VlmforgeError):
    """A store's ``create_run`` was given a name the store already holds (another process may
    have created it a moment earlier: ``--resume`` then continues that run)."""
