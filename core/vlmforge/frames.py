"""Frames on disk: ``DIR/seed_XXXX/step_NNN.png`` per step, and an animated GIF per episode."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path


def frame_path(frames_dir: Path, seed: int, index: int) -> Path:
    """Where step ``index`` of the episode with ``seed`` is written."""
    return frames_dir / f"seed_{seed:04d}" / f"step_{index:03d}.png"


def write_frame(
    frames_dir: Path, seed: int, index: int, png: bytes, *, made: set[Path] | None = None
) -> Path:
    """Write one frame; ``made`` remembers folders already created (saves a syscall a step)."""
    path = frame_path(frames_dir, seed, index)
    if made is None or path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(path.parent)
    path.write_bytes(png)
    return path


def write_gif(path: Path, pngs: Sequence[bytes], *, duration_ms: int = 120) -> Path:
    """An animated GIF of the frames (looping); ValueError if there are none."""
    from PIL import Image

    if not pngs:
        raise ValueError("no frames to animate")
    frames = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0, optimize=False
    )
    return path
