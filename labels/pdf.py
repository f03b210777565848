"""Labels into PDF with reportlab, streamed page by page so that a 100,000-label job runs in bounded memory.

reportlab's canvas draws each page; :class:`_StreamingDocument` (a reportlab ``PDFDocument``) writes the page and
its content stream to the output as soon as the page is shown and then forgets them, instead of holding every page
until ``save()``. What it keeps per page is one object number (8 bytes); the page tree and the cross-reference
table are written from those numbers at the end.

Symbols are 1-bit **image masks** (``/ImageMask true``), one module per image sample, inline in the content stream,
which renderers scale with nearest-neighbour sampling, crisp at any printer resolution. A plain 1-bit gray image is
not enough: poppler smooths images it enlarges less than 4x even with ``/Interpolate false`` (measured: a QR at
150 and 203 dpi came out with 26 % grey pixels as an image, none as a mask). One rectangle per module is avoided
too: anti-aliased seams between neighbouring rectangles break decoders, and it is ten times slower.

Text is set in DejaVu Sans (``traceability.fonts``), embedded as a subset: a standard PDF font such as Helvetica is
only named, and a reader or a printer's RIP without it substitutes another, with other widths, so a line fitted to
the label could run over its edge. The subset's font file is written once, when the document is finished.
"""

from __future__ import annotations

import io
from array import array
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase.pdfdoc import (
    PDFDocument,
    PDFFile,
    PDFIndirectObject,
    PDFPages,
    PDFStream,
    PDFTrailer,
    PDFZCompress,
)
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from labels import symbols
from labels.content import LabelData
from labels.errors import LabelDoesNotFit
from labels.symbols import Matrix
from labels.templates import MM, QUIET_ZONE_MODULES, Template
from traceability import fonts
from traceability.i18n import Catalogue, messages
from traceability.models import LabelSymbology

__all__ = ["write_pdf"]

FONT = fonts.LATIN.name
BOLD = fonts.LATIN_BOLD.name
_WORDS: Catalogue = messages("labels.pdf")

_UNIT_MAX_FONT = 8.0
_LINE = 1.28  # line pitch as a multiple of the font size
_GS1_128_QUIET = 10  # modules of quiet zone each side of a GS1-128 symbol
_GS1_128_MAX_X = 0.8 * MM  # GS1 logistic label: X-dimension 0.495-0.940 mm
_GS1_128_MIN_X = 0.25 * MM
_GS1_128_HEIGHT = 32.0 * MM  # GS1 logistic label: bars at least 31.75 mm high

ProgressFn = Callable[[int], None]


class _StreamedPages(PDFPages):  # type: ignore[misc]
    """The page tree of a streamed document: it knows only the object numbers of the pages already written."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers = array("q")

    def addPage(self, page: Any) -> None:  # noqa: N802 - reportlab's name
        raise AssertionError("pages are added through _StreamingDocument.addPage")


class _StreamingDocument(PDFDocument):  # type: ignore[misc]
    """A reportlab document that writes every finished page to ``out`` at once and keeps only its object number."""

    def __init__(self, out: BinaryIO, *, invariant: bool) -> None:
        super().__init__(invariant=int(invariant))
        self.Pages = self.Catalog.Pages = _StreamedPages()
        self._out = out
        self._offsets = array("q", [0])
        header: bytes = PDFFile(self._pdfVersion).strings[0]
        out.write(header)
        self._position = len(header)

    # reportlab calls this from Canvas.showPage with the finished page
    def addPage(self, page: Any) -> None:  # noqa: N802 - reportlab's name
        name = self.thisPageName()
        # Set the content stream ourselves: Flate only. reportlab's default adds ASCII85, which its pure-Python
        # fallback encodes at about 0.4 ms a page.
        page.Contents = PDFStream(content=page.stream, filters=[PDFZCompress])
        self.Reference(page, name)
        self.Pages.numbers.append(self.idToObjectNumberAndVersion[name][0])
        self.pageCounter += 1
        self.inObject = None
        self._emit(name)  # formatting the page registers its content stream (and, once, the page tree)
        stream_name = page.Contents.__InternalName__
        self._emit(stream_name)
        self._forget(name)
        self._forget(stream_name)

    def _write(self, number: int, data: bytes) -> None:
        if len(self._offsets) <= number:
            self._offsets.extend([0] * (number + 1 - len(self._offsets)))
        self._offsets[number] = self._position
        self._out.write(data)
        self._position += len(data)

    def _emit(self, name: str) -> None:
        number = self.idToObjectNumberAndVersion[name][0]
        self._write(number, PDFIndirectObject(name, self.idToObject[name]).format(self))

    def _forget(self, name: str) -> None:
        number = self.idToObjectNumberAndVersion.pop(name)[0]
        del self.numberToId[number]
        del self.idToObject[name]

    def _emit_pages(self, number: int) -> None:
        """The page tree, written in pieces: its /Kids array is the one thing that grows with the job."""
        numbers = self.Pages.numbers
        self._write(number, b"%d 0 obj\n<< /Type /Pages /Count %d /Kids [" % (number, len(numbers)))
        for start in range(0, len(numbers), 512):
            self._append(b"".join(b" %d 0 R" % n for n in numbers[start : start + 512]))
        self._append(b" ] >>\nendobj\n")

    def _append(self, data: bytes) -> None:
        self._out.write(data)
        self._position += len(data)

    def _written(self, number: int) -> bool:
        return number < len(self._offsets) and self._offsets[number] != 0

    def finish(self, canvas: Canvas) -> None:
        """Write what is left (fonts, page tree, catalog, info), the cross-reference table and the trailer."""
        for font in self.delayedFonts:
            font.addObjects(self)
        self.info.invariant = self.invariant
        self.info.digest(self.signature)
        self.Reference(self.Catalog)
        self.Reference(self.info)
        self.Outlines.prepare(self, canvas)
        if self.Outlines.ready < 0:
            self.Catalog.Outlines = None
        while pending := sorted(n for n in self.numberToId if not self._written(n)):
            for number in pending:  # formatting may register more objects; the loop picks them up
                name = self.numberToId[number]
                if self.idToObject[name] is self.Pages:
                    self._emit_pages(number)
                else:
                    self._emit(name)
        count = self.objectcounter
        missing = [n for n in range(1, count + 1) if not self._written(n)]
        if missing:
            raise AssertionError(f"PDF objects {missing[:5]} were never written")
        xref_at = self._position
        self._append(b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1))
        for start in range(1, count + 1, 512):
            stop = min(start + 512, count + 1)
            self._append(b"".join(b"%010d 00000 n \n" % self._offsets[n] for n in range(start, stop)))
        trailer = PDFTrailer(
            startxref=xref_at, Size=count + 1, Root=self.Reference(self.Catalog), Info=self.Reference(self.info),
            ID=self.ID(),
        )  # fmt: skip
        self._append(trailer.format(self))


class _StreamingCanvas(Canvas):  # type: ignore[misc]
    """A reportlab canvas over a :class:`_StreamingDocument`: pages leave memory when shown."""

    def __init__(self, out: BinaryIO, *, pagesize: tuple[float, float], invariant: bool) -> None:
        # initialFontName: the canvas would otherwise name Helvetica (not embedded) in every page's preamble.
        super().__init__(io.BytesIO(), pagesize=pagesize, pageCompression=1, invariant=int(invariant),
                         initialFontName=FONT)  # fmt: skip
        self._doc = _StreamingDocument(out, invariant=invariant)
        self._make_preamble()  # again: the first one registered its font with the document just replaced

    def finish(self) -> None:
        if self._code:
            self.showPage()
        self._doc.finish(self)


def write_pdf(
    labels: Iterable[LabelData],
    *,
    template: Template,
    out: BinaryIO,
    title: str,
    first_slot: int = 0,
    progress: ProgressFn | None = None,
    invariant: bool = False,
) -> int:
    """Draw ``labels`` on ``template``'s pages into ``out``, a page at a time; return how many were drawn.

    ``first_slot`` starts on a later position of the first sheet, to use up a partly used sheet (a reprint).
    ``invariant`` makes the output byte-for-byte repeatable (fixed dates and document id), for tests.
    """
    if not 0 <= first_slot < template.per_page:
        raise ValueError(f"first_slot must be 0-{template.per_page - 1} on template {template.id}")
    fonts.register(fonts.LATIN)
    fonts.register(fonts.LATIN_BOLD)
    page_w, page_h = template.page_mm[0] * MM, template.page_mm[1] * MM
    canvas = _StreamingCanvas(out, pagesize=(page_w, page_h), invariant=invariant)
    canvas.setTitle(title)
    canvas.setCreator("traceability labels")
    slot = first_slot
    count = 0
    on_page = 0
    for label in labels:
        left, top = template.slot_mm(slot)
        box = (left * MM, page_h - (top + template.label_mm[1]) * MM, template.label_mm[0] * MM,
               template.label_mm[1] * MM)  # fmt: skip
        if label.sscc is None:
            _draw_unit(canvas, label, template, box)
        else:
            _draw_logistic(canvas, label, template, box)
        count += 1
        on_page += 1
        slot += 1
        if slot == template.per_page:
            canvas.showPage()
            if progress is not None:
                progress(on_page)
            slot = on_page = 0
    if on_page and progress is not None:
        progress(on_page)
    canvas.finish()
    return count


# --- drawing ---------------------------------------------------------------------------------------------------


def _mask(canvas: Canvas, matrix: Matrix, x: float, y: float, width: float, height: float) -> None:
    """Draw a module matrix as one inline 1-bit image mask, filled black, stretched over the given box."""
    canvas.addLiteral(
        f"q {fp_str(width)} 0 0 {fp_str(height)} {fp_str(x)} {fp_str(y)} cm 0 g "
        f"BI /W {matrix.width} /H {matrix.height} /IM true /D [1 0] /F /AHx ID {matrix.rows.hex()}> EI Q"
    )


def _fit(lines: Iterable[str], font: str, width: float, largest: float) -> float:
    """The largest font size up to ``largest`` at which every line fits ``width``."""
    widest = max((stringWidth(line, font, 1.0) for line in lines), default=0.0)
    return largest if widest == 0 else min(largest, width / widest)


def _symbol(label: LabelData) -> Matrix:
    if label.symbology is LabelSymbology.qr:
        return symbols.qr(label.text)
    return symbols.gs1_datamatrix(label.gs1)


def _module(side: float, matrix: Matrix, template: Template, label: LabelData) -> float:
    module = side / (max(matrix.width, matrix.height) + 2 * QUIET_ZONE_MODULES)
    if module < template.min_module_mm * MM - 1e-9:
        raise LabelDoesNotFit.keyed(
            _WORDS, "module_too_small", width=matrix.width, height=matrix.height, symbology=label.symbology.value,
            module=f"{module / MM:.2f}", template=template.id, minimum=template.min_module_mm,
            detail={"template": template.id},
        )
    return module


def _draw_unit(canvas: Canvas, label: LabelData, template: Template, box: tuple[float, float, float, float]) -> None:
    """Symbol on the left, its quiet zone inside the label; human-readable lines to its right."""
    x, y, w, h = box
    pad = template.padding_mm * MM
    side = min(h - 2 * pad, (w - 2 * pad) * 0.55)
    matrix = _symbol(label)
    module = _module(side, matrix, template, label)
    size_w, size_h = matrix.width * module, matrix.height * module
    quiet = QUIET_ZONE_MODULES * module
    sx = x + pad + quiet
    sy = y + (h - size_h) / 2
    _mask(canvas, matrix, sx, sy, size_w, size_h)
    text_x = sx + size_w + quiet
    text_w = x + w - pad - text_x
    lines = label.lines
    size = min(_fit(lines, FONT, text_w, _UNIT_MAX_FONT), size_h / (len(lines) * _LINE))
    text = canvas.beginText(text_x, sy + size_h - size * 0.8)  # one text object for all lines
    text.setFont(FONT, size, size * _LINE)
    for line in lines:
        text.textLine(line)
    canvas.drawText(text)


def _draw_logistic(
    canvas: Canvas, label: LabelData, template: Template, box: tuple[float, float, float, float]
) -> None:
    """GS1 logistic label: title and SSCC on top, contents beside a DataMatrix, the GS1-128 at the bottom."""
    assert label.sscc is not None
    x, y, w, h = box
    pad = template.padding_mm * MM
    inner_w = w - 2 * pad
    top = y + h - pad
    hri = f"(00) {label.sscc}"

    title_size = min(14.0, h * 0.05)
    canvas.setFont(BOLD, title_size)
    canvas.drawString(x + pad, top - title_size, label.title or "SSCC")
    sscc_size = _fit([hri], BOLD, inner_w, 22.0)
    canvas.setFont(BOLD, sscc_size)
    cursor = top - title_size * 1.6 - sscc_size
    canvas.drawString(x + pad, cursor, hri)

    # GS1-128 at the bottom: X-dimension as large as the width allows, within GS1's logistic-label range
    bars = symbols.gs1_128(label.gs1)
    x_dim = min(_GS1_128_MAX_X, inner_w / (bars.width + 2 * _GS1_128_QUIET))
    if x_dim < _GS1_128_MIN_X:
        raise LabelDoesNotFit.keyed(_WORDS, "gs1_128", template=template.id, detail={"template": template.id})
    hri_size = min(11.0, _fit([hri], FONT, bars.width * x_dim, 11.0))
    bar_h = min(_GS1_128_HEIGHT, h * 0.25)
    bar_y = y + pad + hri_size * 1.6
    bar_x = x + (w - bars.width * x_dim) / 2
    _mask(canvas, bars, bar_x, bar_y, bars.width * x_dim, bar_h)
    canvas.setFont(FONT, hri_size)
    canvas.drawCentredString(x + w / 2, y + pad + hri_size * 0.3, hri)

    # middle band: contents on the left, the DataMatrix on the right
    band_top = cursor - sscc_size * 0.8
    band_bottom = bar_y + bar_h + 4 * MM
    matrix = symbols.gs1_datamatrix(label.gs1)
    side = min(inner_w * 0.42, band_top - band_bottom, 40 * MM)
    module = _module(side, matrix, template, label)
    size = matrix.width * module
    quiet = QUIET_ZONE_MODULES * module
    _mask(canvas, matrix, x + w - pad - quiet - size, band_top - quiet - size, size, size)
    text_w = inner_w - side - 2 * MM
    lines = label.lines
    text_size = min(_fit(lines, FONT, text_w, 13.0), (band_top - band_bottom) / (len(lines) * _LINE))
    canvas.setFont(FONT, text_size)
    baseline = band_top - quiet - text_size
    for line in lines:
        canvas.drawString(x + pad, baseline, line)
        baseline -= text_size * _LINE
