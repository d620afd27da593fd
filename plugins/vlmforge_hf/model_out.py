"""The folder a built model is written to: never an existing one silently, never half-written.

:func:`check_model_out` refuses a non-empty ``--out`` unless ``overwrite`` (and even then only a
folder holding a model: ``config.json`` or ``vlmforge_tiny.json``); :func:`staged_folder` writes
into a hidden sibling folder and moves it into place only when everything is saved.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vlmforge.errors import ConfigError

MODEL_MARKERS = ("config.json", "vlmforge_tiny.json")


def check_model_out(out: Path, overwrite: bool) -> None:
    """Raise a ConfigError (changing nothing) when ``out`` may not be written."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"--out '{out}' exists and is not a folder; choose another --out.")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    if not overwrite:
        raise ConfigError(
            f"--out '{out}' is not empty ({', '.join(entries[:5])}); pass --overwrite to replace "
            "it, or choose another --out (nothing was touched)."
        )
    if not any((out / marker).is_file() for marker in MODEL_MARKERS):
        raise ConfigError(
            f"--out '{out}' holds no model (no config.json), so --overwrite will not replace "
            "it; choose another --out (nothing was touched)."
        )


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A hidden folder next to ``out`` to write into; on success it replaces ``out``, on any
    failure it is removed and ``out`` is left as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
