"""Barcode symbols as module matrices, encoded by zxing-cpp (its writer is zint).

A :class:`Matrix` is the symbol's modules, one bit each, packed by rows: what the PDF writer draws as one 1-bit
image mask, never as a rectangle per module, whose anti-aliased seams break decoders. GS1 symbols (GS1 DataMatrix,
GS1-128) take AI/value pairs and get FNC1 in first position and after every variable-length field from the
encoder, so a scanner returns the same element string that :func:`codes.render.to_element_string` prints.

QR mask selection is done here, not by zint, for speed alone: zint scores the eight mask patterns of ISO/IEC 18004
one module at a time, about 0.6 ms of the 0.7 ms a 49x49 symbol costs, most of a label's time. We let zint encode
with mask 0 and derive the other seven candidates by XOR: the difference between mask k and mask 0 of a symbol
depends only on its size (the data region and the format bits), so it is learnt once per size from zint itself.
The same penalty rules (N1-N4, exactly as zint counts them) are then scored for all eight candidates at once,
bit-parallel on Python integers. The result is the symbol zint would have chosen, bit for bit (a test compares
them on random payloads of many sizes), in about a third of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import zxingcpp

__all__ = ["QR_EC_LEVEL", "Matrix", "gs1_128", "gs1_datamatrix", "qr"]

QR_EC_LEVEL: Final = "M"
"""QR error correction: M restores 15 % of the symbol, what a scuffed carton label needs; L would save a version."""

_FORMAT = zxingcpp.BarcodeFormat


@dataclass(frozen=True, slots=True)
class Matrix:
    """A symbol's modules: ``rows`` holds ``height`` rows of ``width`` bits (1 = dark), each padded to a byte."""

    width: int
    height: int
    rows: bytes

    @classmethod
    def from_dark(cls, dark: np.ndarray) -> Matrix:
        """From a boolean array of modules (True = dark)."""
        return cls(width=dark.shape[1], height=dark.shape[0], rows=np.packbits(dark, axis=1).tobytes())

    @classmethod
    def from_image(cls, image: object) -> Matrix:
        """From a zxing-cpp image at one pixel per module (0 = dark)."""
        return cls.from_dark(np.asarray(image) < 128)

    def dark(self) -> np.ndarray:
        """The modules as a boolean array (True = dark), for tests."""
        packed = np.frombuffer(self.rows, dtype=np.uint8).reshape(self.height, -1)
        modules: np.ndarray = np.unpackbits(packed, axis=1)[:, : self.width].astype(bool)
        return modules


def _qr_dark(text: str, ec_level: str, mask: int | None) -> np.ndarray:
    options: dict[str, object] = {"ec_level": ec_level}
    if mask is not None:
        options["dataMask"] = mask
    barcode = zxingcpp.create_barcode(text, _FORMAT.QRCode, **options)
    dark: np.ndarray = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128
    return dark


_MASK_DELTAS: dict[tuple[int, str], np.ndarray] = {}
"""(size, EC level) -> the eight XOR patterns that turn a mask-0 symbol of that size into its mask-k symbol."""


def qr(text: str, *, ec_level: str = QR_EC_LEVEL) -> Matrix:
    """A QR code for ``text`` (a Digital Link URI: plain QR, scanned as ``]Q1``), with zint's choice of mask."""
    first = _qr_dark(text, ec_level, 0)
    key = (first.shape[0], ec_level)
    deltas = _MASK_DELTAS.get(key)
    if deltas is None:
        deltas = _MASK_DELTAS[key] = np.stack([_qr_dark(text, ec_level, k) ^ first for k in range(8)])
    candidates = deltas ^ first
    return Matrix.from_dark(candidates[int(np.argmin(_penalties(candidates)))])


class _PenaltyLayout:
    """Bit layout of ``count`` candidate symbols of ``size`` modules, each padded with 4 light modules all round.

    Candidate c, row r, column j is bit ``c * seg + (r + 4) * stride + j + 4`` of one integer: a shift by 1 moves
    to the right neighbour, a shift by ``stride`` to the one below, and the light padding is the "edge counts as
    light" rule of the finder-like pattern test (N3). Segments are whole 64-bit words, so that counting the bits
    of each candidate is one ``bitwise_count`` over a reshaped array.
    """

    def __init__(self, count: int, size: int) -> None:
        self.count, self.size = count, size
        self.stride = size + 8
        self.seg = -(-self.stride * self.stride // 64) * 64
        self.nbytes = count * self.seg // 8
        self.all = (1 << (count * self.seg)) - 1
        inner = slice(4, size + 4)
        valid = self._blank()
        valid[:, inner, inner] = True
        self.valid = self.pack(valid)
        block = self._blank()
        block[:, 4 : size + 3, 4 : size + 3] = True  # top-left corners of 2x2 blocks
        self.block = self.pack(block)

    def _blank(self) -> np.ndarray:
        return np.zeros((self.count, self.stride, self.stride), dtype=bool)

    def pack(self, grid: np.ndarray) -> int:
        bits = np.zeros((self.count, self.seg), dtype=bool)
        bits[:, : self.stride * self.stride] = grid.reshape(self.count, -1)
        return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")

    def embed(self, candidates: np.ndarray) -> int:
        padded = self._blank()
        padded[:, 4 : self.size + 4, 4 : self.size + 4] = candidates
        return self.pack(padded)

    def counts(self, values: list[int]) -> np.ndarray:
        """Set bits of each value within each candidate's segment: shape (len(values), count)."""
        raw = b"".join(v.to_bytes(self.nbytes, "little") for v in values)
        words = np.frombuffer(raw, dtype=np.uint64).reshape(len(values), self.count, -1)
        counted: np.ndarray = np.bitwise_count(words).sum(axis=2, dtype=np.int64)
        return counted


_LAYOUTS: dict[tuple[int, int], _PenaltyLayout] = {}


def _penalties(candidates: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 mask penalty of each candidate, counted as zint's ``qr_evaluate`` counts it."""
    count, size = candidates.shape[0], candidates.shape[1]
    layout = _LAYOUTS.get((count, size)) or _LAYOUTS.setdefault((count, size), _PenaltyLayout(count, size))
    everything, valid = layout.all, layout.valid
    dark = layout.embed(candidates)
    light = everything ^ dark
    values: list[int] = []
    for step in (1, layout.stride):  # rows, then columns
        same = ~(dark ^ (dark >> step)) & valid & (valid >> step)
        # N1: a run of L >= 5 equal modules costs L - 2: (L - 4) windows of five, plus 2 for the run's start
        fives = same & (same >> step) & (same >> 2 * step) & (same >> 3 * step)
        starts = fives & ~(fives << step)
        # N3: dark-light-dark-dark-dark-light-dark with four light modules before or after (edges are light)
        core = (dark & (light >> step) & (dark >> 2 * step) & (dark >> 3 * step) & (dark >> 4 * step)
                & (light >> 5 * step) & (dark >> 6 * step))  # fmt: skip
        light4 = light & (light >> step) & (light >> 2 * step) & (light >> 3 * step)
        finder = core & ((light4 << 4 * step) | (light4 >> 7 * step))
        values += [fives & everything, starts & everything, finder & everything]
    # N2: 2x2 blocks of one colour
    stride = layout.stride
    blocks = ~(dark ^ (dark >> 1)) & ~(dark ^ (dark >> stride)) & ~(dark ^ (dark >> (stride + 1))) & layout.block
    values.append(blocks)
    n = layout.counts(values)
    penalty = n[0] + 2 * n[1] + 40 * n[2] + n[3] + 2 * n[4] + 40 * n[5] + 3 * n[6]
    # N4: 10 per full 5 % that the dark share strays from 50 %
    share = 100.0 * candidates.reshape(count, -1).sum(axis=1) / (size * size)
    total: np.ndarray = penalty + 10 * (np.abs(share - 50.0) / 5.0).astype(np.int64)
    return total


def _bracketed(pairs: Sequence[tuple[str, str]]) -> str:
    # zint's GS1 input: "[AI]value". Brackets are outside GS1 character set 82, so no value can contain one,
    # while parentheses (the other syntax) may appear in a lot number.
    for ai, value in pairs:
        if not ai.isdigit() or "[" in value or "]" in value:
            raise ValueError(f"not a GS1 AI/value pair: ({ai}) {value!r}")
    return "".join(f"[{ai}]{value}" for ai, value in pairs)


def gs1_datamatrix(pairs: Sequence[tuple[str, str]]) -> Matrix:
    """A square GS1 DataMatrix (``]d2``) of the element string; square, because ``]d8`` DMRE is not accepted."""
    barcode = zxingcpp.create_barcode(_bracketed(pairs), _FORMAT.DataMatrix, gs1=True, forceSquare=True)
    return Matrix.from_image(barcode.to_image(scale=1, add_quiet_zones=False))


def gs1_128(pairs: Sequence[tuple[str, str]]) -> Matrix:
    """A GS1-128 bar pattern (``]C1``), one module row: height is the drawing's business."""
    barcode = zxingcpp.create_barcode(_bracketed(pairs), _FORMAT.Code128, gs1=True)
    pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return Matrix.from_image(pixels[:1])
