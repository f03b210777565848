"""Measure what a signed code costs on the label: characters, QR version, DataMatrix size, module size.

Run: ``python benchmarks/code_sizes.py``. Prints ``name: value`` lines (pasted into docs/codes.md).

Symbols are made with zxing-cpp (its writer picks the smallest symbol that holds the data) and read back, so
every size printed is of a symbol that actually decodes to the payload. QR is at error-correction level M;
DataMatrix is square ECC 200. A printed symbol of side S mm carries its quiet zone too (4 modules each side for
QR, 1 for DataMatrix), so module size = S / (modules + 2 x quiet zone).
"""

from __future__ import annotations

import sys
from pathlib import Path

import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codes.identity import CodeIdentity  # noqa: E402
from codes.render import GS, parse_code, to_digital_link, to_element_string  # noqa: E402
from codes.signing import HmacSigner, SignedCode, Signer  # noqa: E402

PRINT_SIDES_MM = (10, 15, 20)
QR_QUIET_ZONE = 4
DM_QUIET_ZONE = 1
DOTS_PER_MM_300_DPI = 300 / 25.4

# A typical unit: GTIN-14, a 13-character random serial, a 7-character lot, an expiry, a short key id.
IDENTITY = CodeIdentity(gtin="09506000134352", serial="7Q2M9XK4RT8WB", lot="L2501A7", expiry="270131")
RESOLVER = "https://id.example.com"


def _read_back(barcode: zxingcpp.Barcode, expected: SignedCode) -> None:
    read = zxingcpp.read_barcode(barcode.to_image(scale=4), text_mode=zxingcpp.TextMode.Plain)
    if read is None or parse_code(read.symbology_identifier + read.text) != expected:
        raise SystemExit(f"symbol does not read back: {read and read.text!r}")


def _qr(payload: str, gs1: bool, code: SignedCode) -> int:
    options = {"gs1": True} if gs1 else {}
    barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M", **options)
    _read_back(barcode, code)
    return int(barcode.to_image(scale=1, add_quiet_zones=False).shape[0])


def _datamatrix(payload: str, gs1: bool, code: SignedCode) -> int:
    options = {"gs1": True} if gs1 else {}
    barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.DataMatrix, force_square=True, **options)
    _read_back(barcode, code)
    rows, cols = barcode.to_image(scale=1, add_quiet_zones=False).shape[:2]
    assert rows == cols
    return int(rows)


def _report(name: str, text: str, symbol_input: str, gs1: bool, code: SignedCode) -> None:
    print(f"{name}.chars: {len(text)}")
    qr_side = _qr(symbol_input, gs1, code)
    qr_total = qr_side + 2 * QR_QUIET_ZONE
    print(f"{name}.qr_version_M: {(qr_side - 17) // 4}")
    print(f"{name}.qr_modules: {qr_side}x{qr_side}")
    dm_side = _datamatrix(symbol_input, gs1, code)
    dm_total = dm_side + 2 * DM_QUIET_ZONE
    print(f"{name}.datamatrix_size: {dm_side}x{dm_side}")
    for side_mm in PRINT_SIDES_MM:
        print(f"{name}.qr_module_mm_at_{side_mm}mm: {side_mm / qr_total:.3f}")
        print(f"{name}.datamatrix_module_mm_at_{side_mm}mm: {side_mm / dm_total:.3f}")
    for kind, total in (("qr", qr_total), ("datamatrix", dm_total)):
        # A thermal printer prints whole dots: at 300 dpi a module is 3 dots (0.254 mm) at the least.
        print(f"{name}.{kind}_min_side_mm_at_3_dots_300dpi: {total * 3 / DOTS_PER_MM_300_DPI:.1f}")


def main() -> None:
    signer = Signer("K1", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    compact_signer = HmacSigner("H1", bytes(range(32)), tag_bytes=8)
    full = signer.sign(IDENTITY)
    compact = compact_signer.sign(IDENTITY)
    bare = signer.sign(CodeIdentity(gtin=IDENTITY.gtin, serial=IDENTITY.serial))
    print(f"identity: {IDENTITY.sgtin}")
    print(f"resolver: {RESOLVER}")
    print("key_id: K1 (Ed25519), H1 (HMAC-SHA256 truncated to 8 bytes)")
    for name, code in (("full", full), ("compact", compact), ("full_no_lot_expiry", bare)):
        link = to_digital_link(code, RESOLVER)
        _report(f"{name}_digital_link", link, link, False, code)
        element = to_element_string(code)
        # zxing-cpp's GS1 mode takes the bracketed form and inserts FNC1 itself; the count is of the carried form.
        _report(f"{name}_element_string", element, to_element_string(code, human=True), True, code)
        print(f"{name}_element_string.separators: {element.count(GS)}")


if __name__ == "__main__":
    main()
