"""Content-addressed PNG images as they travel between environment, policy, store and exporter."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PngImage:
    """PNG bytes plus their sha256, the key under which a store keeps them once."""

    png: bytes
    width: int
    height: int
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.png).hexdigest())

    def data_url(self) -> str:
        return png_data_url(self.png)


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def decode_data_url(url: str) -> tuple[str, bytes]:
    """``data:<mime>;base64,<data>`` -> (mime, bytes); ValueError if it is not such a URL."""
    if not url.startswith("data:"):
        raise ValueError("not a data URL")
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise ValueError("not a base64 data URL")
    return header[5:-7], base64.b64decode(payload, validate=True)


def encode_png(array: Any, *, compress_level: int = 1) -> PngImage:
    """Encode an HxWx3 (RGB) or HxWx4 (RGBA) uint8 array, or HxW grey, as PNG (fast settings).

    8-bit arrays are written directly with zlib (filter type 0 on every row): about twice as fast
    as Pillow for small frames and smaller at the same level, because Pillow's per-call overhead
    dominates at 64x64. Other arrays go through Pillow. ``compress_level`` is the zlib level
    (0-9; 1 is fast; see benchmarks/README.md for sizes and timings).
    """
    import numpy as np

    a = np.asarray(array)
    channels = 1 if a.ndim == 2 else (a.shape[2] if a.ndim == 3 else 0)
    if a.dtype != np.uint8 or (a.ndim, channels) not in {(2, 1), (3, 3), (3, 4)} or not a.size:
        return _encode_png_pillow(a, compress_level)
    height, width = a.shape[:2]
    raw = np.empty((height, width * channels + 1), np.uint8)
    raw[:, 0] = 0  # filter type "None" for every scanline
    if channels > 1 and a.strides[2] == 1:
        # copy whole pixels (one strided copy of 3- or 4-byte items, fast for transposed frames
        # such as crafter's) rather than bytes
        np.copyto(raw[:, 1:].view(f"V{channels}"), a.view(f"V{channels}")[..., 0])
    else:
        raw[:, 1:] = a.reshape(height, width * channels)
    colour_type = {1: 0, 3: 2, 4: 6}[channels]  # grey, RGB, RGBA
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    png = b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), compress_level)),
            _png_chunk(b"IEND", b""),
        )
    )
    return PngImage(png, width=width, height=height)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _encode_png_pillow(array: Any, compress_level: int) -> PngImage:
    import io

    from PIL import Image

    img = Image.fromarray(array)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return PngImage(buf.getvalue(), width=img.width, height=img.height)
