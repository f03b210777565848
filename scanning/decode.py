"""Read every barcode on a scan image: phone photos, case tops holding dozens of codes, scanner images.

Two engines, strongest first. zxing-cpp reads DataMatrix, QR, Code 128 / GS1-128, EAN/UPC and more, and reports
symbols it found but could not decode; ZBar (through pyzbar) is a second opinion. With ``try_harder`` the image is
also pre-processed with OpenCV (other binarizer, median filter for print texture, sharpening for blur, up-scaling
small images, contrast equalisation, adaptive threshold, rotation for skewed 1D codes) and read again.

Escalation stops as soon as a pass leaves symbols and no unexplained candidate, so a clean photo costs one
zxing-cpp call. A large photo is first read from a working copy at most 2048 px long, and at full size only when
that leaves something unread. Readings from all passes are merged by (text, position). A later pass never adds a
*different* 2D reading over a place already read (pre-processing artefacts look like that: a Micro QR "seen"
inside a QR); where a 1D symbol is involved the reading backed by more scan lines wins.

Candidates for :attr:`DecodeResult.unreadable_regions` come from zxing-cpp (a 2D symbol located but failing its
checksum or format) and, once some 2D symbols are read, from symbol-sized blocks of barcode-like texture that no
reading explains: a case top where 22 of 24 codes read says where the other two are.

Text is kept as encoded: GS1 element strings keep FNC1 separators as GS (``\\x1d``), and the ISO/IEC 15424
symbology identifier (``]d2``, ``]Q3``, ``]C1`` …) tells GS1 data from plain text. Polygons are in pixels of the
image as stored (EXIF orientation is not applied).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import math
import re
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Final

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray
from PIL import Image

from scanning.errors import CorruptImage, ImageTooLarge, UnsupportedImage

try:
    from pyzbar import wrapper as _zbar_lib
except ImportError:  # libzbar0 is a system library; without it decode with zxing-cpp alone rather than not at all
    _zbar_lib = None

__all__ = [
    "ENGINES",
    "MAX_PIXELS",
    "ZBAR",
    "ZXING",
    "DecodeResult",
    "DecodedSymbol",
    "Region",
    "available_engines",
    "decode_image",
]

log = logging.getLogger(__name__)

ZXING: Final = "zxing-cpp"
ZBAR: Final = "zbar"
ENGINES: Final = (ZXING, ZBAR)
MAX_PIXELS: Final = 50_000_000
"""The default pixel limit (``Settings.max_image_pixels`` sets the server's): a 48 MP photo. Larger images are
refused from their header, before decoding: decoding one would take memory and stall a worker."""

Point = tuple[int, int]
Gray = NDArray[np.uint8]
Affine = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DecodedSymbol:
    """One symbol read from the image, with what is needed to tell GS1 data from plain text.

    ``decoders`` names the engines that read it among those that ran: escalation stops once all is read.
    """

    text: str
    symbology: str
    symbology_identifier: str
    is_gs1: bool
    polygon: tuple[Point, ...]
    decoders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Region:
    """A place that looks like a symbol but was not read, so a user can be shown where to rescan."""

    polygon: tuple[Point, ...]
    reason: str
    symbology: str | None = None


@dataclass(slots=True)
class DecodeResult:
    """Symbols read, places that look like unread symbols, and the passes it took (for tuning and tests)."""

    symbols: list[DecodedSymbol]
    unreadable_regions: list[Region]
    passes: tuple[str, ...] = ()


def available_engines() -> tuple[str, ...]:
    """Engines usable here: ZBar needs the libzbar0 system library."""
    return ENGINES if _zbar_lib is not None else (ZXING,)


def decode_image(
    data: bytes | bytearray | memoryview | NDArray[Any],
    *,
    try_harder: bool = True,
    engines: Collection[str] | None = None,
    max_pixels: int | None = None,
) -> DecodeResult:
    """Decode every barcode in encoded image bytes (PNG, JPEG, WebP, BMP, TIFF …) or a BGR / gray array.

    ``engines`` narrows the engines used (to compare them); by default both run, zxing-cpp first. An image of more
    than ``max_pixels`` (default :data:`MAX_PIXELS`) is refused with :class:`ImageTooLarge`, before it is decoded.
    """
    if engines is not None and (unknown := set(engines) - set(ENGINES)):
        raise ValueError(f"unknown decoding engine(s) {sorted(unknown)}; choose from {list(ENGINES)}")
    wanted = tuple(e for e in ENGINES if engines is None or e in engines)
    if ZBAR in wanted and _zbar_lib is None:
        log.warning("ZBar unavailable (install the libzbar0 system package); decoding without it")
        wanted = tuple(e for e in wanted if e != ZBAR)
    if not wanted:
        raise ValueError(f"no usable decoding engine among {sorted(engines or ())}")
    try:
        gray = _load(data, MAX_PIXELS if max_pixels is None else max_pixels)
        return _Decoder(gray, wanted).run(try_harder=try_harder)
    finally:
        _release_freed_memory()


def _release_freed_memory() -> None:
    """Hand the heap's freed pages back to the system (glibc's ``malloc_trim``) once an image is done with: a large
    image's buffers are freed but stay in the process, and the next large image would then peak on top of them."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _find_libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_libc = _find_libc()


# --- loading ---------------------------------------------------------------------------------------------------

_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
)


def _sniff(raw: bytes) -> str | None:
    """Name the container format from its magic bytes, to say *which* image is broken."""
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WebP"
    if raw[4:12] in (b"ftypavif", b"ftypavis"):
        return "AVIF"
    return next((name for magic, name in _MAGIC if raw.startswith(magic)), None)


@dataclass(frozen=True, slots=True)
class _Header:
    """What the file header says, read before a single pixel is decoded."""

    format: str
    width: int
    height: int
    alpha: bool


_PILLOW_FORMATS: Final = ("PNG", "JPEG", "WEBP", "AVIF", "BMP", "GIF", "TIFF", "JPEG2000", "PPM")
"""The formats cameras, phones and scanners write; Pillow opens only these here, not its whole zoo (EPS, for one,
would run Ghostscript)."""
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_BOMB_PIXELS: Final = re.compile(r"\((\d+) pixels\)")
_STRIP_ROWS: Final = 128  # rows composited over white at a time: float copies of a strip, never of the image


def _load(data: bytes | bytearray | memoryview | NDArray[Any], max_pixels: int) -> Gray:
    """Turn the input into one 8-bit gray image, raising only domain errors.

    Encoded bytes are measured from their header first, so an image with too many pixels is refused without being
    decoded (a 2 MB PNG can hold 25,000 x 25,000 pixels). An image without transparency is then decoded straight
    to 8-bit gray (one byte a pixel, whatever its depth and channels); one with transparency is composited over
    white strip by strip from Pillow's 8-bit RGBA (four bytes a pixel, even when the file holds 16-bit samples).
    """
    if isinstance(data, np.ndarray):
        return _to_gray(data, source="array", max_pixels=max_pixels)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UnsupportedImage(
            f"expected encoded image bytes or a numpy array, got {type(data).__name__}", reason="type"
        )
    raw = bytes(data)
    if not raw:
        raise CorruptImage("image data is empty (0 bytes)", reason="empty")
    header = _header(raw, max_pixels)
    if header is None:
        raise _corrupt(raw)  # no size in a header we read: not an image of ours, or cut off before its size
    image: NDArray[Any] | None
    if header.alpha:
        image = _pillow_over_white(raw)
        if image is None:
            image = _imdecode(raw, cv2.IMREAD_UNCHANGED)
    else:
        # OpenCV refuses (and logs about) WebP files under 32 bytes, valid ones included: a 1x1 image is 30 bytes
        tiny_webp = header.format == "WEBP" and len(raw) < 32
        # as stored: polygons are in pixels of the image as stored, so no EXIF rotation
        image = None if tiny_webp else _imdecode(raw, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            image = _pillow_gray(raw)
    if image is None:
        raise _corrupt(raw)
    return _to_gray(image, source=_sniff(raw) or "image", max_pixels=max_pixels)


def _header(raw: bytes, max_pixels: int) -> _Header | None:
    """Format, size and transparency from the header (Pillow's open reads no pixels); None when it has none we read.

    :class:`ImageTooLarge` when width x height is over ``max_pixels``, and when Pillow's own decompression-bomb
    guard (twice ``Image.MAX_IMAGE_PIXELS``) refuses the image first.
    """
    kind = _sniff(raw) or "image"
    try:
        with Image.open(io.BytesIO(raw), formats=_PILLOW_FORMATS) as opened:
            width, height = opened.size
            alpha = opened.mode in _ALPHA_MODES or "transparency" in opened.info
            header = _Header(str(opened.format), int(width), int(height), alpha)
    except Image.DecompressionBombError as exc:
        found = _BOMB_PIXELS.search(str(exc))
        pixels = f"{int(found[1]):,} pixels" if found else "too many pixels"
        raise _too_large(f"{kind} image has {pixels}", max_pixels) from None
    except Exception:  # Pillow raises a zoo of types for hostile input; all mean "no header we can read"
        return None
    if header.width <= 0 or header.height <= 0:
        return None
    if header.width * header.height > max_pixels:
        raise _too_large(f"{kind} image has {header.width}x{header.height} pixels", max_pixels)
    return header


def _too_large(what: str, max_pixels: int) -> ImageTooLarge:
    return ImageTooLarge(f"{what}, more than the {max_pixels:,} accepted", reason="too_large", limit=max_pixels)


def _corrupt(raw: bytes) -> CorruptImage:
    kind = _sniff(raw)
    if kind is None:
        return CorruptImage(
            f"data ({len(raw)} bytes, starting {raw[:8].hex(' ')}) is not an image in a supported format "
            "(PNG, JPEG, WebP, BMP, TIFF, GIF …)",
            reason="unknown_format",
        )
    return CorruptImage(f"{kind} image data ({len(raw)} bytes) is truncated or corrupt", reason="truncated",
                        format=kind)  # fmt: skip


_CV_LOG_LOCK: Final = threading.Lock()


def _imdecode(raw: bytes, flags: int) -> NDArray[Any] | None:
    """OpenCV first: it is the fast path, and reads alpha and 16-bit as they are when asked to.

    OpenCV logs every broken upload to stderr; the caller gets a CorruptImage instead, so its logging is muted
    for the call (under a lock, so concurrent calls cannot leave it muted).
    """
    with _CV_LOG_LOCK:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), flags)
        except cv2.error:
            return None
        finally:
            cv2.utils.logging.setLogLevel(level)
    return None if image is None or image.size == 0 else np.asarray(image)


def _pillow_gray(raw: bytes) -> NDArray[Any] | None:
    """Fallback for valid files OpenCV refuses (tiny WebP)."""
    try:
        with Image.open(io.BytesIO(raw), formats=_PILLOW_FORMATS) as opened:
            return np.asarray(opened.convert("L"))
    except Exception:  # Pillow raises a zoo of types for hostile input; all mean "cannot decode"
        return None


def _pillow_over_white(raw: bytes) -> Gray | None:
    """An image with transparency as gray over white, from 8-bit RGBA one strip at a time (None if Pillow fails)."""
    try:
        with Image.open(io.BytesIO(raw), formats=_PILLOW_FORMATS) as opened:
            opened.load()
            rgba = opened if opened.mode == "RGBA" else opened.convert("RGBA")
            width, height = rgba.size
            gray = np.empty((height, width), np.uint8)
            for top in range(0, height, _STRIP_ROWS):
                strip = np.asarray(rgba.crop((0, top, width, min(top + _STRIP_ROWS, height))), dtype=np.uint8)
                luma = np.asarray(cv2.cvtColor(strip, cv2.COLOR_RGBA2GRAY), dtype=np.uint8)
                gray[top : top + strip.shape[0]] = _over_white(luma, strip[:, :, 3])
            return gray
    except Exception:  # Pillow raises a zoo of types for hostile input; all mean "cannot decode"
        return None


def _over_white(gray: Gray, alpha: NDArray[np.uint8]) -> Gray:
    """Composite gray with its alpha over white (transparency is paper, not ink)."""
    unit = alpha.astype(np.float32) / 255.0
    return np.asarray(gray.astype(np.float32) * unit + 255.0 * (1.0 - unit) + 0.5).astype(np.uint8)


def _to_gray(image: NDArray[Any], *, source: str, max_pixels: int) -> Gray:
    """8-bit gray from gray/BGR/BGRA arrays of any common dtype; transparency is composited over white."""
    if image.size == 0:
        raise CorruptImage(f"{source} has no pixels (shape {image.shape})", reason="empty")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise UnsupportedImage(
            f"{source} has shape {image.shape}; expected (h, w), (h, w, 3) BGR or (h, w, 4) BGRA", reason="shape"
        )
    if image.shape[0] * image.shape[1] > max_pixels:
        raise _too_large(f"{source} has {image.shape[1]}x{image.shape[0]} pixels", max_pixels)
    if image.dtype == np.uint16:
        # 16-bit scans use their full range; scaled in one pass to one byte a sample (a float copy takes four)
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    elif image.dtype != np.uint8:
        image = (_as_unit_float(image, source=source) * 255.0 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        return np.ascontiguousarray(image, dtype=np.uint8)
    if image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    image = np.ascontiguousarray(image)
    gray = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    for top in range(0, gray.shape[0], _STRIP_ROWS):
        rows = slice(top, top + _STRIP_ROWS)
        gray[rows] = _over_white(gray[rows], image[rows, :, 3])
    return gray


def _as_unit_float(image: NDArray[Any], *, source: str) -> NDArray[np.float32]:
    """Scale integer, boolean or float pixels to [0, 1]; floats above 1 are taken as 0..255."""
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        # 16-bit scans use their full range; other integer arrays (numpy's default int64) usually hold 0..255
        peak = int(image.max())
        top = 65535.0 if image.dtype == np.uint16 or 255 < peak <= 65535 else 255.0
        top = float(np.iinfo(image.dtype).max) if peak > 65535 else top
        return np.asarray(np.clip(image.astype(np.float32) / top, 0.0, 1.0), dtype=np.float32)
    if np.issubdtype(image.dtype, np.floating):
        values = np.nan_to_num(image.astype(np.float32), nan=1.0, posinf=1.0, neginf=0.0)
        if values.size and float(values.max()) > 1.0:
            values = values / 255.0
        return np.clip(values, 0.0, 1.0)
    raise UnsupportedImage(f"{source} has pixel type {image.dtype}; expected integers or floats", reason="dtype")


# --- engines ---------------------------------------------------------------------------------------------------

_MATRIX: Final = frozenset(
    {"qrcode", "microqr", "rmqr", "datamatrix", "aztec", "aztec-rune", "maxicode", "pdf417", "micropdf417"}
)
_ZXING_NAMES: Final = {
    "QRCode": "qrcode",
    "QRCodeModel1": "qrcode",
    "QRCodeModel2": "qrcode",
    "MicroQRCode": "microqr",
    "RMQRCode": "rmqr",
    "DataMatrix": "datamatrix",
    "Aztec": "aztec",
    "AztecCode": "aztec",
    "AztecRune": "aztec-rune",
    "PDF417": "pdf417",
    "CompactPDF417": "pdf417",
    "MicroPDF417": "micropdf417",
    "MaxiCode": "maxicode",
    "Code128": "code128",
    "Code39": "code39",
    "Code39Std": "code39",
    "Code39Ext": "code39",
    "Code32": "code32",
    "PZN": "pzn",
    "Code93": "code93",
    "Codabar": "codabar",
    "ITF": "itf",
    "ITF14": "itf14",
    "DataBar": "databar",
    "DataBarOmni": "databar",
    "DataBarStk": "databar",
    "DataBarStkOmni": "databar",
    "DataBarLtd": "databar-limited",
    "DataBarLimited": "databar-limited",
    "DataBarExp": "databar-expanded",
    "DataBarExpStk": "databar-expanded",
    "DataBarExpanded": "databar-expanded",
    "EAN13": "ean13",
    "ISBN": "ean13",
    "EAN8": "ean8",
    "EAN5": "ean5",
    "EAN2": "ean2",
    "UPCA": "upca",
    "UPCE": "upce",
    "Telepen": "telepen",
    "TelepenAlpha": "telepen",
    "TelepenNumeric": "telepen",
    "DXFilmEdge": "dxfilmedge",
}
_ZXING_MATRIX: Final = getattr(zxingcpp.BarcodeFormat, "AllMatrix", None) or zxingcpp.BarcodeFormat.MatrixCodes
# ZBar symbol type -> (symbology, identifier, identifier when the GS1 modifier is set). ZBar has no identifiers,
# so these are the ISO/IEC 15424 values for what it can read; it cannot see ECI, so QR is always ]Q1 or ]Q3.
_ZBAR_TYPES: Final = {
    64: ("qrcode", "]Q1", "]Q3"),
    128: ("code128", "]C0", "]C1"),
    13: ("ean13", "]E0", "]E0"),
    14: ("ean13", "]E0", "]E0"),  # ISBN-13
    12: ("upca", "]E0", "]E0"),
    8: ("ean8", "]E4", "]E4"),
    9: ("upce", "]E0", "]E0"),
    25: ("itf", "]I0", "]I0"),
    39: ("code39", "]A0", "]A0"),
    93: ("code93", "]G0", "]G0"),
    38: ("codabar", "]F0", "]F0"),
    57: ("pdf417", "]L2", "]L2"),
}
# Off in ZBar: SQ codes (no label of ours carries them) and DataBar, whose ZBar decoder prints assertion noise on
# photos; zxing-cpp reads DataBar.
_ZBAR_OFF: Final = (80, 34, 35)
_ZBAR_CFG_ENABLE: Final = 0
_ZBAR_CFG_BINARY: Final = 4  # QR bytes as encoded: ZBar's own charset guess turns Shift-JIS kana into kanji
_ZBAR_QRCODE: Final = 64
_ZBAR_Y800: Final = 0x30303859  # fourcc "Y800": 8-bit gray
_ZBAR_GS1_BIT: Final = 1 << 0  # ZBAR_MOD_GS1 in zbar_symbol_get_modifiers: FNC1 in first position
# Identifiers whose data is a GS1 element string (FNC1 in first position), for engines without a content type.
_GS1_IDENTIFIERS: Final = frozenset({"]C1", "]d2", "]d5", "]Q3", "]Q4", "]e0", "]J1"})


@dataclass(slots=True, eq=False)  # identity, not array comparison, for list.remove
class _Reading:
    """A decoded symbol while passes are still merging, corners in original-image pixels."""

    text: str
    symbology: str
    identifier: str
    is_gs1: bool
    corners: NDArray[np.float64]
    decoders: list[str]
    zone: _Zone = field(init=False)

    def __post_init__(self) -> None:
        self.zone = _Zone.of(self.corners)

    def freeze(self) -> DecodedSymbol:
        return DecodedSymbol(
            text=self.text,
            symbology=self.symbology,
            symbology_identifier=self.identifier,
            is_gs1=self.is_gs1,
            polygon=_polygon(self.corners),
            decoders=tuple(e for e in ENGINES if e in self.decoders),
        )


@dataclass(slots=True, eq=False)
class _Candidate:
    """A place that may hold a symbol; ``weight`` orders sources when candidates overlap."""

    corners: NDArray[np.float64]
    reason: str
    symbology: str | None
    weight: int
    zone: _Zone = field(init=False)

    def __post_init__(self) -> None:
        self.zone = _Zone.of(self.corners)


@dataclass(frozen=True, slots=True)
class _View:
    """A (pre-processed) image to read and the affine map of its pixels back to the original's."""

    name: str
    image: Gray
    to_original: Affine


def _zxing_barcodes(view: _View, binarizer: Any, **options: Any) -> list[Any]:
    return list(
        zxingcpp.read_barcodes(
            view.image,
            try_rotate=True,
            try_downscale=True,
            try_invert=True,
            text_mode=zxingcpp.TextMode.Plain,  # keeps FNC1 as GS; HRI would print "(01)…"
            binarizer=binarizer,
            **options,
        )
    )


def _zxing_corners(view: _View, barcode: Any) -> NDArray[np.float64]:
    pos = barcode.position
    points = [(p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)]
    return _map(view.to_original, points)


def _zxing_name(barcode: Any) -> str:
    name: str = barcode.format.name
    return _ZXING_NAMES.get(name, name.lower())


def _zxing_read(view: _View, binarizer: Any) -> list[_Reading]:
    """Read with zxing-cpp."""
    readings: list[_Reading] = []
    for barcode in _zxing_barcodes(view, binarizer):
        name = _zxing_name(barcode)
        identifier = barcode.symbology_identifier
        is_gs1 = barcode.content_type.name == "GS1" or identifier in _GS1_IDENTIFIERS
        if name == "code128" and is_gs1:
            name = "gs1-128"
        corners = _zxing_corners(view, barcode)
        readings.append(_Reading(barcode.text, name, identifier, is_gs1, corners, [ZXING]))
    return readings


def _zxing_located(view: _View, binarizer: Any) -> list[_Candidate]:
    """2D symbols zxing-cpp located but could not decode (checksum or format errors).

    A separate call limited to 2D formats: asking for errors changes how zxing-cpp votes across scan lines of
    1D symbols, and on a sample EAN-13 photo turned a correct reading into an error and kept a misread.
    """
    candidates: list[_Candidate] = []
    for barcode in _zxing_barcodes(view, binarizer, formats=_ZXING_MATRIX, return_errors=True):
        if barcode.valid:
            continue
        error = barcode.error
        kind = error.type.name.lower() if error is not None else "unknown"
        reason = f"located but not decodable ({kind} error)"
        candidates.append(_Candidate(_zxing_corners(view, barcode), reason, _zxing_name(barcode), weight=2))
    return candidates


_zbar_modifiers: Callable[[Any], int] | None = None
if _zbar_lib is not None:
    try:
        _zbar_modifiers = _zbar_lib.zbar_function(
            "zbar_symbol_get_modifiers", ctypes.c_uint, ctypes.POINTER(_zbar_lib.zbar_symbol)
        )
    except AttributeError:  # libzbar before 0.11 has no modifiers: GS1 Code 128 then reads as plain ]C0
        pass


def _zbar_read(view: _View) -> list[_Reading]:
    """Read with ZBar through pyzbar's ctypes bindings, to also get the GS1 modifier pyzbar.decode drops."""
    lib = _zbar_lib
    assert lib is not None
    height, width = view.image.shape
    pixels = view.image.tobytes()
    readings: list[_Reading] = []
    scanner = lib.zbar_image_scanner_create()
    image = lib.zbar_image_create()
    try:
        for kind in _ZBAR_OFF:
            lib.zbar_image_scanner_set_config(scanner, kind, _ZBAR_CFG_ENABLE, 0)
        lib.zbar_image_scanner_set_config(scanner, _ZBAR_QRCODE, _ZBAR_CFG_BINARY, 1)
        lib.zbar_image_set_format(image, _ZBAR_Y800)
        lib.zbar_image_set_size(image, width, height)
        lib.zbar_image_set_data(image, ctypes.cast(ctypes.c_char_p(pixels), ctypes.c_void_p), len(pixels), None)
        if lib.zbar_scan_image(scanner, image) <= 0:
            return readings
        symbol = lib.zbar_image_first_symbol(image)
        while symbol:
            reading = _zbar_reading(lib, symbol, view)
            if reading is not None:
                readings.append(reading)
            symbol = lib.zbar_symbol_next(symbol)
    finally:
        lib.zbar_image_destroy(image)
        lib.zbar_image_scanner_destroy(scanner)
    return readings


def _guess_text(raw: bytes) -> str:
    """Bytes without ECI as text: UTF-8 if valid (most QR today), else Shift-JIS (Japanese QR), else Latin-1.

    Latin-1 is the standard default of QR and Code 128 and decodes anything; it comes last because UTF-8 and
    Shift-JIS rarely validate by accident. zxing-cpp makes the same guess, and it reads first.
    """
    for encoding in ("utf-8", "shift_jis"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _zbar_reading(lib: Any, symbol: Any, view: _View) -> _Reading | None:
    """One ZBar symbol as a reading; types with no mapping (add-ons, composites) are skipped."""
    kind = _ZBAR_TYPES.get(int(symbol.contents.type))
    if kind is None:
        return None
    raw = ctypes.string_at(lib.zbar_symbol_get_data(symbol), lib.zbar_symbol_get_data_length(symbol))
    text = _guess_text(raw)
    is_gs1 = _zbar_modifiers is not None and bool(_zbar_modifiers(symbol) & _ZBAR_GS1_BIT)
    name, plain, gs1 = kind
    if name == "code128" and is_gs1:
        name = "gs1-128"
    count = lib.zbar_symbol_get_loc_size(symbol)
    points = [(lib.zbar_symbol_get_loc_x(symbol, i), lib.zbar_symbol_get_loc_y(symbol, i)) for i in range(count)]
    if not points:
        return None
    corners = _map(view.to_original, points)
    if len(corners) > 4:
        hull = cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2)
        corners = hull.astype(np.float64)
    return _Reading(text, name, gs1 if is_gs1 else plain, is_gs1, corners, [ZBAR])


# --- geometry --------------------------------------------------------------------------------------------------

_IDENTITY: Final[Affine] = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _map(affine: Affine, points: list[tuple[float, float]] | list[tuple[int, int]]) -> NDArray[np.float64]:
    """Map view pixels to original-image pixels."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ affine[:, :2].T + affine[:, 2]


def _compose(outer: Affine, inner: Affine) -> Affine:
    """The affine map applying ``inner`` first, then ``outer``."""
    return np.asarray(outer[:, :2] @ inner, dtype=np.float64) + np.hstack([np.zeros((2, 2)), outer[:, 2:]])


def _polygon(corners: NDArray[np.float64]) -> tuple[Point, ...]:
    return tuple((round(float(x)), round(float(y))) for x, y in corners)


@dataclass(frozen=True, slots=True)
class _Zone:
    """Where a symbol lies: its tightest (rotated) rectangle, and that rectangle grown to absorb jitter.

    Rotated, not axis-aligned: on a case top photographed at 45° the axis-aligned box of a long DMRE symbol
    covers its neighbours. The margin also gives 1D readings, often a bare scan line, some width.
    """

    center: tuple[float, float]
    grown: NDArray[np.float32]
    width: float
    height: float

    @classmethod
    def of(cls, corners: NDArray[np.float64]) -> _Zone:
        (cx, cy), (width, height), angle = cv2.minAreaRect(corners.astype(np.float32))
        pad = 0.1 * max(width, height) + 4.0
        grown = cv2.boxPoints(((cx, cy), (width + 2 * pad, height + 2 * pad), angle))
        return cls((float(cx), float(cy)), np.asarray(grown, np.float32), float(width), float(height))

    @property
    def area(self) -> float:
        return max(self.width, 1.0) * max(self.height, 1.0)

    @property
    def thickness(self) -> float:
        """Shorter side: for a 1D reading, how many scan lines back it."""
        return min(self.width, self.height)

    def holds(self, point: tuple[float, float]) -> bool:
        return bool(cv2.pointPolygonTest(self.grown, point, False) >= 0)


def _same_place(a: _Zone, b: _Zone) -> bool:
    """Either centre lies within the other's grown rectangle: one physical symbol, or one inside another."""
    return a.holds(b.center) or b.holds(a.center)


# --- pre-processing --------------------------------------------------------------------------------------------


def _scaled(image: Gray, factor: float) -> tuple[Gray, Affine]:
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    out = cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)
    return np.asarray(out, dtype=np.uint8), np.array([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]])


def _rotated(image: Gray, degrees: float) -> tuple[Gray, Affine]:
    """Rotate on a canvas big enough to keep every pixel, padding with white (the usual label stock)."""
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos + 0.5), int(height * cos + width * sin + 0.5)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    out = cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderValue=255)
    return np.asarray(out, dtype=np.uint8), cv2.invertAffineTransform(matrix).astype(np.float64)


def _sharpened(image: Gray, sigma: float, amount: float) -> Gray:
    """Unsharp mask after a contrast stretch: restores module edges lost to focus blur and motion."""
    stretched = cv2.normalize(image, np.empty_like(image), 0, 255, cv2.NORM_MINMAX)
    blurred = cv2.GaussianBlur(stretched, (0, 0), sigma)
    return np.asarray(cv2.addWeighted(stretched, 1 + amount, blurred, -amount, 0), dtype=np.uint8)


def _clahe(image: Gray) -> Gray:
    """Local contrast equalisation, for glare and shadows across a case top."""
    return np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(image), dtype=np.uint8)


def _adaptive(image: Gray) -> Gray:
    """Threshold against the local mean, for uneven lighting zxing-cpp's own binarizers miss."""
    return np.asarray(
        cv2.adaptiveThreshold(image, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 15, 2), dtype=np.uint8
    )


@dataclass(frozen=True, slots=True)
class _Pass:
    """One escalation step: how to make the view, and which engines read it with which zxing binarizer."""

    name: str
    make: Callable[[Gray], tuple[Gray, Affine] | None]
    zxing_binarizer: Any | None
    zbar: bool
    full_resolution: bool = False  # read the image as given, not the working copy of a large one
    untouched: bool = False  # no filter applied: its failed symbols are candidates, its nested reads trusted


def _same(image: Gray) -> tuple[Gray, Affine]:
    return image, _IDENTITY


def _upscaled(image: Gray) -> tuple[Gray, Affine] | None:
    """Small images only: zxing-cpp needs about 2 px per module, and big images are slow to double."""
    return _scaled(image, 2.0) if max(image.shape) <= 1600 else None


def _median(image: Gray) -> tuple[Gray, Affine]:
    """Median filter: removes print texture and JPEG noise inside modules (designer QR codes, photos of photos)."""
    return np.asarray(cv2.medianBlur(image, 3), dtype=np.uint8), _IDENTITY


def _passes() -> tuple[_Pass, ...]:
    """The escalation ladder, cheapest and most often useful first.

    Ordered by what rescued images in the zxing-cpp samples and in blurred, low-contrast case tops. ZBar reads the
    pre-processed copies last: on a blurred photo it takes ten times as long as zxing-cpp and, in those tests,
    never read what zxing-cpp had missed on the same copy.
    """
    binarizer = zxingcpp.Binarizer
    local, histogram = binarizer.LocalAverage, binarizer.GlobalHistogram
    return (
        _Pass("zxing", _same, local, zbar=False, untouched=True),
        _Pass("zbar", _same, None, zbar=True),
        _Pass("global-histogram", _same, histogram, zbar=False),
        _Pass("median", _median, histogram, zbar=False),
        _Pass("sharpen", lambda g: (_sharpened(g, 2.0, 1.5), _IDENTITY), local, zbar=False),
        # symbols too small for the working copy of a large photo; seconds on a noisy 30 MP one, so not sooner
        _Pass("zxing-full-resolution", _same, local, zbar=False, full_resolution=True, untouched=True),
        _Pass("upscale", _upscaled, local, zbar=False),
        _Pass("clahe", lambda g: (_clahe(g), _IDENTITY), local, zbar=False),
        _Pass("adaptive-threshold", lambda g: (_adaptive(g), _IDENTITY), local, zbar=False),
        _Pass("sharpen-strong", lambda g: (_sharpened(g, 2.0, 3.0), _IDENTITY), local, zbar=False),
        # zxing-cpp tries 90° turns itself; these leave a skewed 1D code within about 11° of a scan direction
        _Pass("rotate-45", lambda g: _rotated(g, 45.0), local, zbar=False),
        _Pass("rotate-22", lambda g: _rotated(g, 22.5), local, zbar=False),
        _Pass("rotate-67", lambda g: _rotated(g, 67.5), local, zbar=False),
        _Pass("zbar-median", _median, None, zbar=True),
        _Pass("zbar-sharpen", lambda g: (_sharpened(g, 2.0, 1.5), _IDENTITY), None, zbar=True),
        _Pass("zbar-upscale", _upscaled, None, zbar=True),
    )


# --- candidates from texture -----------------------------------------------------------------------------------

_WORK_SIDE: Final = 2048  # px; the longest side of the working copy of a large photo (modules stay >= 2 px)
_FAST_PASSES: Final = frozenset({"zxing", "zxing-full-resolution", "zbar"})
_MIN_CANDIDATE_AREA: Final = 64.0  # px²; zxing-cpp sometimes reports a failed symbol at a single point
_TEXTURE_SIDE: Final = 800  # work on a copy this size at most: enough for symbol-sized blobs, and fast


def _texture_candidates(gray: Gray, readings: list[_Reading]) -> list[_Candidate]:
    """Symbol-sized blocks of dense edges and about half ink, sized after the 2D symbols already read.

    Calibrating on read symbols keeps this quiet on photos with no code at all, where a generic "looks like a
    barcode" detector fires on text, foliage and brickwork; the ink share tells a symbol (about half dark) from a
    block of human-readable text beside it (far less).
    """
    rects = [cv2.minAreaRect(r.corners.astype(np.float32)) for r in readings if r.symbology in _MATRIX]
    if not rects:
        return []
    scale = min(1.0, _TEXTURE_SIDE / max(gray.shape))
    small = gray if scale == 1.0 else _scaled(gray, scale)[0]
    areas = [max(w * h, 1.0) * scale**2 for _, (w, h), _ in rects]
    # as elongated as the read symbols (DMRE runs to 1:8), or as half a square one with the rest torn off
    max_aspect = max(2.5, 2.0 * max(max(w, h) / max(min(w, h), 1.0) for _, (w, h), _ in rects) + 0.5)
    # close gaps of about two modules of the smallest symbol (20 modules or so), not its quiet zone
    k = max(3, int(math.sqrt(min(areas)) / 8) | 1)
    block = np.ones((k, k), np.uint8)
    gradient = cv2.morphologyEx(small, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    _, edges = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    edges = cv2.morphologyEx(cv2.morphologyEx(edges, cv2.MORPH_CLOSE, block), cv2.MORPH_OPEN, block)
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[_Candidate] = []
    for contour in contours:
        rect = cv2.minAreaRect(contour)
        width, height = rect[1]
        area = width * height
        if not 0.4 * min(areas) <= area <= 2.5 * max(areas):
            continue
        if max(width, height) / max(min(width, height), 1.0) > max_aspect:
            continue
        if cv2.contourArea(contour) < 0.75 * area or not 0.3 <= _ink(small, contour) <= 0.7:
            continue
        corners = cv2.boxPoints(rect).astype(np.float64) / scale
        found.append(_Candidate(corners, "looks like a symbol but no engine read it", None, weight=1))
    return found


def _ink(image: Gray, contour: NDArray[Any]) -> float:
    """Share of dark pixels inside a contour, dark meaning below Otsu's threshold of its bounding box."""
    x, y, w, h = cv2.boundingRect(contour)
    patch = image[y : y + h, x : x + w]
    inside = np.zeros_like(patch)
    cv2.drawContours(inside, [contour - np.array([x, y], dtype=contour.dtype)], -1, 255, thickness=cv2.FILLED)
    threshold, _ = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    total = int(np.count_nonzero(inside))
    return int(np.count_nonzero((patch <= threshold) & (inside > 0))) / total if total else 0.0


# --- the decoder -----------------------------------------------------------------------------------------------


class _Decoder:
    """Runs the escalation ladder over one image and merges what the passes read."""

    def __init__(self, gray: Gray, engines: tuple[str, ...]) -> None:
        self.gray = gray
        self.engines = engines
        # a large photo is read at working size first, and at full size only when that leaves something unread
        factor = _WORK_SIDE / max(gray.shape)
        self.work, self.work_to_original = _scaled(gray, factor) if factor < 1 else (gray, _IDENTITY)
        self.readings: list[_Reading] = []
        self.candidates: list[_Candidate] = []
        self.texture: list[_Candidate] = []
        self.texture_basis = 0
        self.passes: list[str] = []

    def run(self, *, try_harder: bool) -> DecodeResult:
        ladder = _passes()
        if not try_harder:
            ladder = tuple(p for p in ladder if p.name in _FAST_PASSES)
        for step in self._applicable(ladder):
            if not self._read(step):
                continue
            self.passes.append(step.name)
            if self.readings and not self._unexplained():
                break
        symbols = sorted((r.freeze() for r in self.readings), key=lambda s: (_top_left(s.polygon), s.text))
        regions = [
            Region(_polygon(c.corners), c.reason, c.symbology)
            for c in sorted(self._unexplained(), key=lambda c: _top_left(_polygon(c.corners)))
        ]
        return DecodeResult(symbols=symbols, unreadable_regions=regions, passes=tuple(self.passes))

    def _applicable(self, ladder: tuple[_Pass, ...]) -> Iterator[_Pass]:
        for step in ladder:
            uses_zxing = step.zxing_binarizer is not None and ZXING in self.engines
            uses_zbar = step.zbar and ZBAR in self.engines
            if uses_zxing or uses_zbar:
                yield step

    def _read(self, step: _Pass) -> bool:
        """Run one pass; False when it does not apply to this image."""
        if step.full_resolution:
            if self.work is self.gray:
                return False  # the working copy was the full image
            made = step.make(self.gray)
        else:
            made = step.make(self.work)
            made = None if made is None else (made[0], _compose(self.work_to_original, made[1]))
        if made is None:
            return False
        view = _View(step.name, made[0], made[1])
        trusted = step.untouched or not self.passes
        if step.zxing_binarizer is not None and ZXING in self.engines:
            for reading in _zxing_read(view, step.zxing_binarizer):
                self._merge(reading, trusted=trusted)
            if step.untouched and not step.full_resolution:
                # only the untouched image (filtered copies make noise look like finder patterns), and at working
                # size: asking again at full size costs seconds on a large photo and finds the same symbols
                self.candidates.extend(_zxing_located(view, step.zxing_binarizer))
        if step.zbar and ZBAR in self.engines:
            for reading in _zbar_read(view):
                self._merge(reading, trusted=trusted)
        if len(self.readings) != self.texture_basis:
            # recalibrate on what is read so far: the stop rule needs these candidates after every pass
            self.texture = _texture_candidates(self.gray, self.readings)
            self.texture_basis = len(self.readings)
        return True

    def _merge(self, new: _Reading, *, trusted: bool) -> None:
        """Add a reading unless it repeats one (then note the engine) or loses to a rival over the same place."""
        for old in self.readings:
            if old.text == new.text and _same_place(old.zone, new.zone):
                if ZXING in new.decoders and ZXING not in old.decoders:
                    # zxing-cpp sees ECI and model details ZBar cannot: prefer its description
                    old.symbology, old.identifier, old.is_gs1 = new.symbology, new.identifier, new.is_gs1
                old.decoders.extend(e for e in new.decoders if e not in old.decoders)
                return
        for old in [r for r in self.readings if _same_place(r.zone, new.zone)]:
            if old.symbology in _MATRIX and new.symbology in _MATRIX:
                if trusted:
                    continue  # nested 2D symbols exist ("double QR" designs); the first read of the image is kept
                return  # a second text over a place read before is a pre-processing artefact or a charset guess
            # with a 1D symbol involved, the reading backed by more scan lines wins: a single-line read beside
            # a thick one is a misread (seen on a sample EAN-13 photo)
            if old.zone.thickness >= new.zone.thickness:
                return
            self.readings.remove(old)
        self.readings.append(new)

    def _unexplained(self) -> list[_Candidate]:
        """Candidates no reading covers, one per place: the largest wins, so the finder patterns a damaged QR
        code still shows (each a Micro QR candidate to zxing-cpp) count as one symbol with its texture block."""
        kept: list[_Candidate] = []
        # much smaller than any 2D symbol read: speckle that zxing-cpp took for a tiny DataMatrix in a noisy photo
        matrix = [r.zone.area for r in self.readings if r.symbology in _MATRIX]
        smallest = max(_MIN_CANDIDATE_AREA, 0.25 * min(matrix)) if matrix else _MIN_CANDIDATE_AREA
        for cand in sorted(self.candidates + self.texture, key=lambda c: (-c.zone.area, -c.weight)):
            if cand.zone.area < smallest or self._explained(cand):
                continue
            at = next((i for i, k in enumerate(kept) if _same_place(k.zone, cand.zone)), None)
            if at is None:
                kept.append(cand)
            elif kept[at].symbology is None and cand.symbology and cand.zone.area >= 0.5 * kept[at].zone.area:
                # the texture block's outline with zxing-cpp's word on what the symbol is
                kept[at] = replace(kept[at], reason=cand.reason, symbology=cand.symbology)
        return kept

    def _explained(self, cand: _Candidate) -> bool:
        """A reading covers it, or it is a phantom built from parts of readings.

        zxing-cpp pairs finder patterns of *neighbouring* QR codes into phantom symbols spanning the gap between
        them: their corners sit on read symbols, and they overlap those, where an unread symbol does neither.
        """
        if any(_same_place(r.zone, cand.zone) for r in self.readings):
            return True
        corners_on_readings = sum(
            any(r.zone.holds((float(x), float(y))) for r in self.readings) for x, y in cand.corners
        )
        if corners_on_readings >= 2:
            return True
        hull = cv2.convexHull(cand.corners.astype(np.float32))
        covered = 0.0
        for reading in self.readings:
            other = cv2.convexHull(reading.corners.astype(np.float32))
            if len(other) >= 3:
                covered += float(cv2.intersectConvexConvex(hull, other)[0])
        return covered >= 0.2 * max(float(cv2.contourArea(hull)), 1.0)


def _top_left(polygon: tuple[Point, ...]) -> tuple[int, int]:
    return min(y for _, y in polygon), min(x for x, _ in polygon)
