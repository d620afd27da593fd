"""encode_png: the direct zlib encoder writes PNGs that decode to the exact input pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vlmforge.images import decode_data_url, encode_png


@pytest.mark.parametrize(
    ("shape", "mode"),
    [((64, 64, 3), "RGB"), ((7, 13, 3), "RGB"), ((5, 9, 4), "RGBA"), ((6, 11), "L")],
)
@pytest.mark.parametrize("level", [0, 1, 9])
def test_roundtrip_exact(shape, mode, level):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=shape, dtype=np.uint8)
    image = encode_png(array, compress_level=level)
    decoded = Image.open(io.BytesIO(image.png))
    decoded.load()  # verifies every chunk CRC and the zlib stream
    assert decoded.mode == mode
    assert (image.width, image.height) == (shape[1], shape[0])
    assert np.array_equal(np.asarray(decoded), array)
    mime, data = decode_data_url(image.data_url())
    assert (mime, data) == ("image/png", image.png)


def test_level_trades_size_and_same_pixels_same_hash():
    array = np.zeros((64, 64, 3), np.uint8)
    array[::7, :, 1] = 200
    fast, small = encode_png(array, compress_level=0), encode_png(array, compress_level=9)
    assert len(fast.png) > len(small.png)
    assert encode_png(array.copy(), compress_level=9).sha256 == small.sha256


def test_other_dtypes_go_through_pillow():
    array = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000).astype(np.uint16)
    image = encode_png(array)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(image.png))), array)


def test_transposed_and_strided_arrays():
    rng = np.random.default_rng(1)
    canvas = rng.integers(0, 256, size=(20, 12, 3), dtype=np.uint8)
    for array in (canvas.transpose(1, 0, 2), canvas[::2, ::3], canvas[:, :, ::-1]):
        decoded = np.asarray(Image.open(io.BytesIO(encode_png(array).png)))
        assert np.array_equal(decoded, array)
