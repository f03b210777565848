"""The TrueType fonts our PDFs embed, found by path and registered with reportlab once per process.

A PDF that names a font without embedding it (reportlab's standard Helvetica, or the CID font ``STSong-Light``)
is drawn with whatever the reader has: a reader without Adobe's Asian font pack shows Chinese names as empty boxes.
So every PDF we write embeds a subset of a TrueType font from one of Debian's ``fonts-*`` packages, which
``scripts/bootstrap.sh`` installs:

- the settlement reports: WenQuanYi Micro Hei (``fonts-wqy-microhei``), which covers Chinese and Latin alike; it is
  a TrueType collection, which reportlab reads with ``subfontIndex`` (Noto CJK is CFF/OpenType, which reportlab
  cannot embed);
- the labels: DejaVu Sans and DejaVu Sans Bold (``fonts-dejavu-core``): their text is GS1 human-readable lines.

``TRACEABILITY_PDF_FONT_PATH`` names another CJK TrueType file (``.ttf`` or ``.ttc``) for the reports. A missing
font is :class:`FontMissing`, which names the package to install, never a PDF with boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from traceability.errors import TraceabilityError

__all__ = ["CJK", "LATIN", "LATIN_BOLD", "FontMissing", "FontSpec", "register"]


class FontMissing(TraceabilityError):
    """The font a PDF needs is not installed: a set-up problem of the server, not the caller's (503)."""

    status_code = 503
    code = "font_missing"


@dataclass(frozen=True, slots=True)
class FontSpec:
    """A TrueType font by its registered name, where Debian installs it, and the package that does."""

    name: str
    package: str
    paths: tuple[str, ...]
    subfont_index: int = 0


CJK = FontSpec(
    name="WenQuanYiMicroHei",
    package="fonts-wqy-microhei",
    paths=("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
LATIN = FontSpec(
    name="DejaVuSans",
    package="fonts-dejavu-core",
    paths=("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
LATIN_BOLD = FontSpec(
    name="DejaVuSans-Bold",
    package="fonts-dejavu-core",
    paths=("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
)


def _path(spec: FontSpec, override: Path | None) -> Path:
    candidates = [override] if override is not None else [Path(p) for p in spec.paths]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = str(override) if override is not None else " or ".join(spec.paths)
    raise FontMissing(
        f"the PDF font {spec.name} is not installed ({where} not found): install Debian's {spec.package} "
        "(./scripts/bootstrap.sh does), or set TRACEABILITY_PDF_FONT_PATH to a TrueType font file",
        font=spec.name,
        package=spec.package,
    )


def register(spec: FontSpec, *, override: Path | None = None) -> str:
    """Register ``spec`` (or the file ``override`` under its name) with reportlab once; return the font name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    if spec.name in pdfmetrics.getRegisteredFontNames():
        return spec.name
    path = _path(spec, override)
    try:
        font = TTFont(spec.name, str(path), subfontIndex=spec.subfont_index)
    except (TTFError, OSError) as exc:
        raise FontMissing(
            f"{path} is not a TrueType font reportlab can embed ({exc}); install Debian's {spec.package}",
            font=spec.name,
            package=spec.package,
        ) from None
    pdfmetrics.registerFont(font)
    return spec.name
