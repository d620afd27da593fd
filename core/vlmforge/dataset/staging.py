"""The staging folder ``vlmforge filter`` writes into, and where its files end up.

Exporters are handed ``<output_dir>/.vlmforge-filter-<pid>``; when the export is complete every
entry of it is moved into ``output_dir`` (replacing an earlier export's entry of the same name),
so a failed run leaves an earlier export untouched. An exporter that writes paths into its rows
(absolute image paths) computes them against :func:`published_dir`, where the files will be.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

STAGING_PREFIX = ".vlmforge-filter-"


def make_staging(output_dir: Path) -> Path:
    """A fresh, empty staging folder inside ``output_dir`` (created if missing)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = output_dir / f"{STAGING_PREFIX}{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    return staging


def published_dir(directory: Path) -> Path:
    """The absolute folder that files written under ``directory`` end up in: the output
    directory for a staging folder of :func:`make_staging`, else ``directory`` itself."""
    directory = Path(directory).resolve()
    return directory.parent if directory.name.startswith(STAGING_PREFIX) else directory


def publish(staging: Path, output_dir: Path) -> None:
    """Move the finished export from the staging folder into ``output_dir``."""
    for entry in sorted(staging.iterdir()):
        target = output_dir / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        entry.rename(target)
