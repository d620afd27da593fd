"""A small real tmpfs for disk-full tests: mounted for the test, unmounted after.

Mounting needs root; a test using :func:`small_tmpfs` is skipped when the tests do not run as
root or the mount fails (a container without the capability).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def need_root() -> None:
    """Skip the test unless it can mount a tmpfs (root, with ``mount`` installed)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("disk-full tests mount a small tmpfs: they need root")


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"1m"``) mounted at ``where`` (created), for the block's length."""
    need_root()
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def grow(where: Path, size: str) -> None:
    """Free space: remount the tmpfs at ``where`` with a larger ``size``."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)
