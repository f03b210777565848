"""Labels as ZPL II for Zebra-type thermal printers: the layout once, then one ``^XA…^XZ`` of variable data per label.

The stream starts with a stored format (``^DF``): label size, symbol commands, fonts, positions and every text that
is the same on all labels of a job (GTIN, lot, expiry, contents). Each label then recalls it (``^XF``) and sends
only its own fields (``^FN``): the symbol payload and the serial or SSCC. A 100,000-label job is a small format
and 100,000 short lines, and the printer, not the host, draws the symbols.

Symbols are the printer's own: QR ``^BQ`` (model 2, error correction M, automatic mode: data ``MA,<uri>``), GS1
DataMatrix ``^BX`` (ECC 200, square, ``_`` as escape character, ``_1`` for FNC1), GS1-128 ``^BC`` (``>;`` start C,
``>8`` FNC1). Module sizes are whole printer dots; the quiet zone of 4 modules is left blank around each symbol,
sized for a symbol a version larger than ours in case the printer's encoder picks another mode mix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import BinaryIO, Final

from labels import symbols
from labels.content import LabelData
from labels.errors import LabelDoesNotFit, TemplateMismatch
from labels.templates import QUIET_ZONE_MODULES, Template
from traceability.i18n import Catalogue, messages
from traceability.models import LabelSymbology

__all__ = ["FORMAT_NAMES", "fnc1_datamatrix", "write_zpl"]

FORMAT_NAMES: Final = {"unit": "R:TRCUNIT.ZPL", "logistic": "R:TRCLOGI.ZPL"}
"""Names of the stored formats on the printer's RAM drive (8.3 names); each stream downloads its own first."""
_WORDS: Catalogue = messages("labels.zpl")

_HEADROOM: Final = 4  # modules: room for a symbol one version larger than zint's
_FONT_RATIO: Final = 0.58  # width of a character of ZPL font 0 (condensed) as a share of its nominal width
_GS1_128_QUIET: Final = 10

ProgressFn = Callable[[int], None]


def fnc1_datamatrix(element_string: str) -> str:
    """``^BX`` field data for a GS1 element string: ``_1`` for FNC1 first and for every GS, ``__`` for ``_``."""
    return "_1" + element_string.replace("_", "__").replace("\x1d", "_1")


def _field(value: str) -> str:
    # ^ and ~ start ZPL commands; none of our payloads can hold them (GS1 character set 82, percent-encoded URIs)
    if "^" in value or "~" in value or not value.isascii():
        raise ValueError(f"field data {value!r} cannot be sent to a ZPL printer as it is")
    return value


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    body: str
    fields: Callable[[LabelData], list[str]]


def _unit_format(first: LabelData, template: Template) -> _Format:
    """QR or DataMatrix on the left with its quiet zone, the job's lines beside it, the serial among them."""
    assert template.zpl_dpmm is not None
    dpmm = template.zpl_dpmm
    width, height = round(template.label_mm[0] * dpmm), round(template.label_mm[1] * dpmm)
    pad = round(template.padding_mm * dpmm)
    qr = first.symbology is LabelSymbology.qr
    matrix = symbols.qr(first.text) if qr else symbols.gs1_datamatrix(first.gs1)
    modules = matrix.width + _HEADROOM + 2 * QUIET_ZONE_MODULES
    mag = min(10, (height - 2 * pad) // modules, int((width - 2 * pad) * 0.55) // modules)
    if mag < math.ceil(template.min_module_mm * dpmm):
        raise LabelDoesNotFit.keyed(_WORDS, "symbol", template=template.id, dpmm=dpmm, detail={"template": template.id})
    quiet = QUIET_ZONE_MODULES * mag
    side = (matrix.width + _HEADROOM) * mag
    x, y = pad + quiet, (height - side) // 2
    symbol = f"^FO{x},{y}^BQN,2,{mag}^FN1^FS" if qr else f"^FO{x},{y}^BXN,{mag},200,,,,_,1^FN1^FS"
    text_x = x + side + quiet
    text_w = width - pad - text_x
    longest = max(len(line) for line in first.lines) + 1
    font_h = min(24, (side // len(first.lines)) * 4 // 5)
    font_w = max(10, min(font_h, int(text_w / (longest * _FONT_RATIO))))
    parts = [f"^PW{width}^LL{height}^LH0,0", symbol]
    numbers: dict[int, int] = {}
    for i, line in enumerate(first.lines):
        at = f"^FO{text_x},{y + i * font_h * 5 // 4}^A0N,{font_h},{font_w}"
        if i in first.variable:
            numbers[i] = 2 + len(numbers)
            parts.append(f"{at}^FN{numbers[i]}^FS")
        else:
            parts.append(f"{at}^FD{_field(line)}^FS")

    def fields(label: LabelData) -> list[str]:
        payload = f"MA,{label.text}" if qr else fnc1_datamatrix(label.text)
        values = [payload] + [label.lines[i] for i in numbers]
        for i, line in enumerate(label.lines):
            if i not in numbers and line != first.lines[i]:
                raise ValueError(f"label {label.code_id}: line {line!r} differs from the job's {first.lines[i]!r}")
        return values

    return _Format(FORMAT_NAMES["unit"], "".join(parts), fields)


def _logistic_format(first: LabelData, template: Template) -> _Format:
    """GS1 logistic label: title and SSCC on top, contents and a DataMatrix in the middle, GS1-128 at the bottom."""
    assert template.zpl_dpmm is not None
    assert first.sscc is not None
    dpmm = template.zpl_dpmm
    width, height = round(template.label_mm[0] * dpmm), round(template.label_mm[1] * dpmm)
    pad = round(template.padding_mm * dpmm)
    inner = width - 2 * pad
    hri = f"(00) {first.sscc}"
    title_h = 5 * dpmm
    sscc_h = 8 * dpmm
    parts = [f"^PW{width}^LL{height}^LH0,0", f"^FO{pad},{pad}^A0N,{title_h},{title_h}^FD{_field(first.title or '')}^FS"]
    sscc_w = min(sscc_h, int(inner / (len(hri) * _FONT_RATIO)))
    parts.append(f"^FO{pad},{pad + title_h * 3 // 2}^A0N,{sscc_h},{sscc_w}^FN3^FS")
    band_top = pad + title_h * 3 // 2 + sscc_h * 3 // 2
    # GS1-128 at the bottom, X-dimension in whole dots (4 dots = 0.5 mm at 203 dpi)
    bars = symbols.gs1_128(first.gs1)
    x_dim = min(7, inner // (bars.width + 2 * _GS1_128_QUIET))
    if x_dim < 2:
        raise LabelDoesNotFit.keyed(_WORDS, "gs1_128", template=template.id, detail={"template": template.id})
    bar_h = min(32 * dpmm, height // 4)
    hri_h = 4 * dpmm
    bar_y = height - pad - hri_h * 3 // 2 - bar_h
    bar_x = (width - bars.width * x_dim) // 2
    parts.append(f"^BY{x_dim},3,{bar_h}^FO{bar_x},{bar_y}^BCN,{bar_h},N,N,N^FN1^FS")
    hri_w = min(hri_h, int(bars.width * x_dim / (len(hri) * _FONT_RATIO)))
    parts.append(f"^FO{bar_x},{bar_y + bar_h + hri_h // 3}^A0N,{hri_h},{hri_w}^FN4^FS")
    # DataMatrix on the right of the middle band
    matrix = symbols.gs1_datamatrix(first.gs1)
    side_max = min(int(inner * 0.42), 40 * dpmm, bar_y - 4 * dpmm - band_top)
    mag = side_max // (matrix.width + _HEADROOM + 2 * QUIET_ZONE_MODULES)
    if mag < math.ceil(template.min_module_mm * dpmm):
        raise LabelDoesNotFit.keyed(_WORDS, "datamatrix", template=template.id, detail={"template": template.id})
    quiet = QUIET_ZONE_MODULES * mag
    side = (matrix.width + _HEADROOM) * mag
    parts.append(f"^FO{width - pad - quiet - side},{band_top + quiet}^BXN,{mag},200,,,,_,1^FN2^FS")
    text_w = inner - side - 2 * quiet
    line_h = min(5 * dpmm, (bar_y - band_top) // (len(first.lines) * 2))
    line_w = min(line_h, int(text_w / ((max(map(len, first.lines)) + 1) * _FONT_RATIO)))
    for i, line in enumerate(first.lines):
        parts.append(f"^FO{pad},{band_top + quiet + i * line_h * 5 // 4}^A0N,{line_h},{line_w}^FD{_field(line)}^FS")

    def fields(label: LabelData) -> list[str]:
        assert label.sscc is not None
        if label.lines != first.lines:
            raise ValueError(f"label {label.code_id}: contents differ from the job's")
        text = f"(00) {label.sscc}"
        return [f">;>8{label.text}", fnc1_datamatrix(label.text), text, text]

    return _Format(FORMAT_NAMES["logistic"], "".join(parts), fields)


def write_zpl(
    labels: Iterable[LabelData], *, template: Template, out: BinaryIO, progress: ProgressFn | None = None
) -> int:
    """Write the stored format, then one ``^XA^XF…^XZ`` line per label; return how many labels were written."""
    if template.zpl_dpmm is None:
        raise TemplateMismatch.keyed(_WORDS, "sheet", template=template.id, detail={"template": template.id})
    stream: Iterator[LabelData] = iter(labels)
    first = next(stream, None)
    if first is None:
        return 0
    fmt = _logistic_format(first, template) if first.sscc is not None else _unit_format(first, template)
    out.write(f"^XA^DF{fmt.name}^FS{fmt.body}^XZ\n".encode("ascii"))
    count = 0
    batch: list[str] = []
    for label in chain([first], stream):
        values = "".join(f"^FN{i}^FD{_field(v)}^FS" for i, v in enumerate(fmt.fields(label), start=1))
        batch.append(f"^XA^XF{fmt.name}^FS{values}^XZ\n")
        count += 1
        if len(batch) == 1000:
            out.write("".join(batch).encode("ascii"))
            if progress is not None:
                progress(len(batch))
            batch.clear()
    if batch:
        out.write("".join(batch).encode("ascii"))
        if progress is not None:
            progress(len(batch))
    return count
