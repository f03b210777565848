"""The decoder's hostile-input rules, in process: sizes come from the header before any pixel is decoded, and the
ways an image can be stored (16-bit, transparency, palettes, progressive JPEG) still read the code on it."""

from __future__ import annotations

import io
import time

import cv2
import numpy as np
import pytest
import zxingcpp
from PIL import Image

from scanning.decode import MAX_PIXELS, decode_image
from scanning.errors import CorruptImage, ImageTooLarge
from tests.robustness.images import png_bomb, progressive_jpeg_bomb


def _qr(text: str) -> np.ndarray:
    symbol = np.asarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=4))
    return cv2.copyMakeBorder(symbol, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "pixels"),
    [
        (png_bomb(25_000, 25_000), "625,000,000"),
        (png_bomb(25_000, 25_000, bit_depth=16, color_type=6), "625,000,000"),
        (png_bomb(8_000, 7_000, bit_depth=16, color_type=6), "8000x7000"),
        (progressive_jpeg_bomb(), "4,225,000,000"),
    ],
    ids=["png", "rgba16", "rgba16-just-over", "progressive-jpeg"],
)
def test_a_bomb_is_refused_from_its_header(data: bytes, pixels: str) -> None:
    began = time.process_time()
    with pytest.raises(ImageTooLarge) as caught:
        decode_image(data)
    assert time.process_time() - began < 5  # not decoded: a decode of these takes minutes and gigabytes
    error = caught.value
    assert error.status_code == 413 and error.detail == {"reason": "too_large", "limit": MAX_PIXELS}
    assert pixels in error.message and f"{MAX_PIXELS:,}" in error.message


def test_the_limit_is_the_callers() -> None:
    data = _saved(Image.fromarray(_qr("SMALL")), "PNG")
    assert decode_image(data).symbols
    with pytest.raises(ImageTooLarge, match="more than the 1,000 accepted"):
        decode_image(data, max_pixels=1_000)
    with pytest.raises(ImageTooLarge):
        decode_image(_qr("ARRAY"), max_pixels=1_000)


def test_formats_outside_cameras_and_scanners_are_not_opened() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(CorruptImage) as caught:
        decode_image(eps)
    assert caught.value.detail["reason"] == "unknown_format"


@pytest.mark.parametrize("kind", ["rgba16", "la", "palette-transparent", "rgb-trns", "progressive-jpeg", "gray16"])
def test_each_way_of_storing_an_image_reads_its_code(kind: str) -> None:
    gray = _qr(kind.upper())
    ink = 255 - gray
    if kind == "rgba16":  # black ink in the alpha channel only, 16 bits a sample
        rgba = np.zeros((*gray.shape, 4), np.uint16)
        rgba[:, :, 3] = ink.astype(np.uint16) * 257
        ok, buf = cv2.imencode(".png", rgba)
        data = buf.tobytes()
    elif kind == "la":
        data = _saved(Image.fromarray(np.dstack([np.zeros_like(gray), ink]), "LA"), "PNG")
    elif kind == "palette-transparent":  # white is the transparent palette entry, over white again
        data = _saved(Image.fromarray(gray).convert("P"), "PNG", transparency=255)
    elif kind == "rgb-trns":
        data = _saved(Image.fromarray(gray).convert("RGB"), "PNG", transparency=(255, 255, 255))
    elif kind == "progressive-jpeg":
        data = _saved(Image.fromarray(gray).convert("RGB"), "JPEG", progressive=True, quality=90)
    else:
        data = _saved(Image.fromarray(gray.astype(np.uint16) * 257), "PNG")
    (symbol,) = decode_image(data).symbols
    assert symbol.text == kind.upper()
