"""Label templates as data: sheets of standard label grids for office printers, and rolls for thermal printers.

A template says where labels sit on a page and which levels it serves; the layout *inside* a label is the same
for every template of a level (``labels.pdf`` and ``labels.zpl`` scale it to the label). Adding a label stock is
one entry in :data:`TEMPLATES`. Sizes are millimetres, origins measured from the top-left corner of the page,
because that is how label makers print them on the box.

Sheet grids follow common stock (the Avery numbers are for orientation; any stock with the same grid works).
Printers cannot print to the edge of a sheet, so every label keeps its own padding and no template puts content
within 4 mm of a sheet edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from labels.errors import TemplateMismatch, UnknownTemplate
from traceability.i18n import Catalogue, messages
from traceability.models import CodeLevel, PrintFormat

__all__ = [
    "MM",
    "QUIET_ZONE_MODULES",
    "TEMPLATES",
    "Template",
    "TemplateKind",
    "get_template",
]

MM = 72.0 / 25.4
"""PDF points per millimetre."""
QUIET_ZONE_MODULES = 4
"""Light modules around every 2D symbol: QR's own minimum, and generous for DataMatrix (which needs 1)."""

TemplateKind = Literal["sheet", "roll"]

_WORDS: Catalogue = messages("labels.templates")

_UNIT = frozenset({CodeLevel.unit})
_LOGISTIC = frozenset({CodeLevel.case, CodeLevel.pallet})


@dataclass(frozen=True, slots=True)
class Template:
    """One label stock: page and label size, the grid, and what it may print."""

    id: str
    title: str
    kind: TemplateKind
    page_mm: tuple[float, float]
    label_mm: tuple[float, float]
    levels: frozenset[CodeLevel]
    columns: int = 1
    rows: int = 1
    origin_mm: tuple[float, float] = (0.0, 0.0)
    """Left and top edge of the first label, from the page's top-left corner."""
    pitch_mm: tuple[float, float] | None = None
    """Distance between the origins of neighbouring labels (default: the label size, no gap)."""
    padding_mm: float = 1.5
    """Blank margin inside each label: die-cut tolerance of the stock and the printer's registration."""
    min_module_mm: float = 0.25
    """Smallest 2D module printed: below this, office printers and 203 dpi heads blur modules together."""
    zpl_dpmm: int | None = None
    """Dots per millimetre of the thermal printer this roll is made for (8 = 203 dpi); None for sheets."""

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def formats(self) -> tuple[PrintFormat, ...]:
        return (PrintFormat.pdf, PrintFormat.zpl) if self.zpl_dpmm else (PrintFormat.pdf,)

    def slot_mm(self, index: int) -> tuple[float, float]:
        """Left and top edge (mm, from the page's top-left) of the ``index``-th label on a page."""
        pitch_x, pitch_y = self.pitch_mm or self.label_mm
        row, column = divmod(index, self.columns)
        return self.origin_mm[0] + column * pitch_x, self.origin_mm[1] + row * pitch_y

    def check(self, *, level: CodeLevel, fmt: PrintFormat | None = None) -> None:
        """Raise :class:`TemplateMismatch` unless this template prints ``level`` (in ``fmt``)."""
        if level not in self.levels:
            served = ", ".join(sorted(lv.value for lv in self.levels))
            raise TemplateMismatch.keyed(_WORDS, "wrong_level", template=self.id, served=served, level=level.value,
                                         detail={"template": self.id, "level": level.value})  # fmt: skip
        if fmt is not None and fmt not in self.formats:
            raise TemplateMismatch.keyed(
                _WORDS, "wrong_format", template=self.id, kind=self.kind,
                formats=", ".join(f.value.upper() for f in self.formats),
                detail={"template": self.id, "format": fmt.value},
            )

    def validate(self) -> None:
        """Fail loudly on a template whose labels overlap or leave the page (checked for every template by a test)."""
        width, height = self.page_mm
        last_left, last_top = self.slot_mm(self.per_page - 1)
        if last_left + self.label_mm[0] > width + 1e-6 or last_top + self.label_mm[1] > height + 1e-6:
            raise ValueError(f"template {self.id}: the last label leaves the page")
        pitch_x, pitch_y = self.pitch_mm or self.label_mm
        if pitch_x + 1e-6 < self.label_mm[0] or pitch_y + 1e-6 < self.label_mm[1]:
            raise ValueError(f"template {self.id}: labels overlap")


_A4 = (210.0, 297.0)
_LETTER = (215.9, 279.4)
_INCH = 25.4

TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template(
            id="a4-3x8",
            title="A4 sheet, 24 labels 63.5 x 33.9 mm (3 x 8, e.g. Avery L7159)",
            kind="sheet", page_mm=_A4, label_mm=(63.5, 33.9), levels=_UNIT,
            columns=3, rows=8, origin_mm=(7.2, 12.9), pitch_mm=(66.0, 33.9),
        ),
        Template(
            id="a4-3x7",
            title="A4 sheet, 21 labels 63.5 x 38.1 mm (3 x 7, e.g. Avery L7160)",
            kind="sheet", page_mm=_A4, label_mm=(63.5, 38.1), levels=_UNIT,
            columns=3, rows=7, origin_mm=(7.2, 15.15), pitch_mm=(66.0, 38.1),
        ),
        Template(
            id="letter-3x10",
            title="US Letter sheet, 30 labels 2 5/8 x 1 in (3 x 10, e.g. Avery 5160)",
            kind="sheet", page_mm=_LETTER, label_mm=(2.625 * _INCH, 1.0 * _INCH), levels=_UNIT,
            columns=3, rows=10, origin_mm=(0.1875 * _INCH, 0.5 * _INCH), pitch_mm=(2.75 * _INCH, 1.0 * _INCH),
            padding_mm=1.2,
        ),
        Template(
            id="letter-2x5",
            title="US Letter sheet, 10 labels 4 x 2 in (2 x 5, e.g. Avery 5163)",
            kind="sheet", page_mm=_LETTER, label_mm=(4.0 * _INCH, 2.0 * _INCH), levels=_UNIT,
            columns=2, rows=5, origin_mm=(0.15625 * _INCH, 0.5 * _INCH), pitch_mm=(4.125 * _INCH, 2.0 * _INCH),
            padding_mm=3.0,
        ),
        Template(
            id="a4-2x2",
            title="A4 sheet, 4 case or pallet labels 105 x 148.5 mm (A6, 2 x 2)",
            kind="sheet", page_mm=_A4, label_mm=(105.0, 148.5), levels=_LOGISTIC,
            columns=2, rows=2, padding_mm=6.0,
        ),
        Template(
            id="roll-50x30",
            title="Thermal roll, 50 x 30 mm unit labels (203 dpi)",
            kind="roll", page_mm=(50.0, 30.0), label_mm=(50.0, 30.0), levels=_UNIT, zpl_dpmm=8,
        ),
        Template(
            id="roll-100x150",
            title="Thermal roll, 100 x 150 mm (4 x 6 in) case and pallet labels (203 dpi)",
            kind="roll", page_mm=(100.0, 150.0), label_mm=(100.0, 150.0), levels=_LOGISTIC, zpl_dpmm=8,
            padding_mm=4.0,
        ),
    )
}  # fmt: skip


def get_template(template_id: str) -> Template:
    """The template named ``template_id``, or :class:`UnknownTemplate` listing the ones there are."""
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise UnknownTemplate.keyed(_WORDS, "unknown", template=template_id, templates=", ".join(TEMPLATES),
                                    detail={"template": template_id}) from None  # fmt: skip
