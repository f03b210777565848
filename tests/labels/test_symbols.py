"""Symbols: our QR mask choice is zint's, bit for bit; GS1 symbols carry FNC1 where GS1 wants it."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from labels import symbols


def _zint(text: str, ec_level: str) -> np.ndarray:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ec_level)
    return np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=400),
       ec_level=st.sampled_from("LMQH"))  # fmt: skip
def test_qr_mask_choice_is_zints_own(text: str, ec_level: str) -> None:
    """Same symbol as zint choosing the mask itself, for any size from version 1 to about 15 and every EC level."""
    assert np.array_equal(symbols.qr(text, ec_level=ec_level).dark(), _zint(text, ec_level))


def _read(matrix: symbols.Matrix) -> list[tuple[str, str]]:
    image = np.pad(np.where(matrix.dark(), 0, 255).astype(np.uint8), 10, constant_values=255)
    image = np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)
    if matrix.height == 1:
        image = np.repeat(image[10 * 4 : 10 * 4 + 1], 80, axis=0)
        image = np.pad(image, 20, constant_values=255)
    found = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
    return [(r.symbology_identifier, r.text) for r in found]


def test_gs1_datamatrix_is_square_and_separates_variable_fields() -> None:
    matrix = symbols.gs1_datamatrix([("01", "06901234000108"), ("21", "AB(C)D"), ("10", "L1"), ("17", "271231"),
                                     ("91", "K1"), ("92", "sig_-")])  # fmt: skip
    assert matrix.width == matrix.height
    assert _read(matrix) == [("]d2", "010690123400010821AB(C)D\x1d10L1\x1d1727123191K1\x1d92sig_-")]


def test_gs1_128_carries_the_sscc() -> None:
    bars = symbols.gs1_128([("00", "106901234000000003")])
    assert bars.height == 1
    assert _read(bars) == [("]C1", "00106901234000000003")]


def test_gs1_input_refuses_what_would_change_the_fields() -> None:
    with pytest.raises(ValueError, match="AI/value"):
        symbols.gs1_datamatrix([("10", "L[1]")])
