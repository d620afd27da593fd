"""Content-addressed PNG images as they travel between environment, policy, store and exporter."""

from __future__ import annotations

import base64
import hashlib
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
    """Encode an HxWx3 uint8 array as PNG (fast settings: see docs/concepts.md)."""
    import io

    from PIL import Image

    img = Image.fromarray(array)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return PngImage(buf.getvalue(), width=img.width, height=img.height)
