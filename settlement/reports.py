"""Finance reports of a settlement: a terminal table, CSV (UTF-8 with BOM), XLSX and a PDF with a chart page.

Party and product names are often Chinese. The PDF embeds a subset of a CJK TrueType font (WenQuanYi Micro Hei,
``traceability.fonts``) for every line of text, so that it renders in any reader, with or without Asian fonts, and
its names are text that search and copy find; the CSV starts with a BOM so spreadsheet programs read it as UTF-8, and
XLSX is Unicode by nature. Headers, sheet names and headings are in the reader's language (``lang``: zh-CN or en);
the CSV's English headers (the default) are the stable ones for scripts.
The PDF's first page is for a manager at a glance (rebate and purchase value by distributor, diverted units by
territory, sell-through by week); the pages after it carry every line with the reason for its rate. A locked
period's PDF names the chain checkpoint signed at the lock on its first page and in every page's footer, so the
paper copy filed with finance is itself the evidence to check the store against.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from rebates.policy import Policy
from settlement.alerts import ACTIVE, DIVERSION_KINDS
from settlement.service import Settlement, run_settlement
from traceability import fonts
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Alert, Sale, Territory

__all__ = [
    "MEDIA_TYPES",
    "ReportData",
    "render_report",
    "report_data",
    "run_report",
    "to_csv",
    "to_pdf",
    "to_table",
    "to_xlsx",
]

FONT = fonts.CJK.name
_COLUMNS = ["section", "for_period", "party", "name", "currency", "units", "units_scanned_out_or_flagged",
            "diverted_units", "value", "rate", "amount", "reason"]  # fmt: skip

# The words of the reports. English keys of the CSV are the column names scripts read (``lang="en"``).
_WORDS: Catalogue = messages("settlement.reports")


def _word(lang: str) -> Any:
    """``w(key, **params)``: the report's words in ``lang`` (English where a key or the language is missing)."""
    return lambda key, **params: wording(_WORDS, key, lang, **params)


@dataclass
class ReportData:
    """A settlement and the few aggregates its charts need."""

    settlement: Settlement
    diverted_by_territory: list[tuple[str, int]] = field(default_factory=list)
    sales_by_week: list[tuple[str, int]] = field(default_factory=list)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def report_data(*, session: Session, settlement: Settlement) -> ReportData:
    """Gather the chart aggregates (in SQL) beside a settlement."""
    data = ReportData(settlement=settlement)
    start, end = settlement.starts_at, settlement.ends_at
    rows = session.exec(
        select(Alert.territory_id, func.count(func.distinct(Alert.unit_key)))
        .where(col(Alert.kind).in_(DIVERSION_KINDS), col(Alert.status).in_(ACTIVE),
               col(Alert.first_seen) >= start, col(Alert.first_seen) < end)
        .group_by(col(Alert.territory_id))
    ).all()  # fmt: skip
    names = dict(session.exec(select(Territory.id, Territory.name)).all())
    data.diverted_by_territory = sorted(
        ((names.get(t or "", t or "unknown"), int(n)) for t, n in rows), key=lambda x: (-x[1], x[0])
    )
    day = func.date(Sale.event_time)
    days = session.exec(
        select(day, func.count())
        .where(col(Sale.counted).is_(True), col(Sale.event_time) >= start, col(Sale.event_time) < end)
        .group_by(day)
    ).all()  # fmt: skip
    weeks: dict[int, int] = {}
    first = _aware(start).date()
    for d, n in days:
        when = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
        weeks[(when - first).days // 7] = weeks.get((when - first).days // 7, 0) + int(n)
    total_weeks = max(1, ((_aware(end) - _aware(start)).days + 6) // 7)
    data.sales_by_week = [
        (f"{(first + timedelta(days=7 * w)).strftime('%m-%d')}", weeks.get(w, 0)) for w in range(total_weeks)
    ]
    return data


# --- rows shared by CSV and XLSX ----------------------------------------------------------------------------------


def _rows(s: Settlement, lang: str = "en") -> Iterable[list[Any]]:
    w = _word(lang)
    for d in s.distributors:
        yield [w("section.distributor"), s.period, d.party, d.name, d.currency, d.units_purchased, d.units_scanned_out,
               d.diverted_units, d.purchase_value, d.rate, d.rebate, d.reason]  # fmt: skip
    for st in s.stores:
        yield [w("section.store"), s.period, st.party, st.name, st.currency, st.units_sold, st.flagged_units, 0,
               st.sales_value, st.fee_rate, st.fee, st.reason]  # fmt: skip
    for a in s.adjustments:
        yield [w("section.adjustment"), a.for_period, a.party, a.name, a.currency, "", "", "", a.previously, "",
               a.delta, a.reason]  # fmt: skip
    for t in s.totals():
        yield [w("section.total"), s.period, "", "", t["currency"], "", "", "", "", "", Decimal(t["payable"]),
               w("total.reason", rebates=t["rebates"], fees=t["fees"], adjustments=t["adjustments"])]  # fmt: skip


def to_csv(settlement: Settlement, *, lang: str = "en") -> bytes:
    """One table, one row per line, UTF-8 with a BOM so Excel and WPS open Chinese names right; headers and
    section names in ``lang`` (English, the default, keeps the column names scripts read)."""
    w = _word(lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([w(f"col.{c}") for c in _COLUMNS])
    for row in _rows(settlement, lang):
        writer.writerow(["" if v is None else str(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(settlement: Settlement, *, lang: str = "en") -> bytes:
    """A workbook: a summary sheet, then distributors, stores and adjustments, with numbers as numbers; sheet names
    and headers in ``lang``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    w = _word(lang)
    wb = Workbook(write_only=False)
    summary = wb.active
    assert summary is not None
    summary.title = w("sheet.summary")
    summary.append([w("summary.settlement"), settlement.period, w(f"status.{settlement.status}")])
    summary.append([w("summary.period"), settlement.starts_at.isoformat(), settlement.ends_at.isoformat()])
    if settlement.checkpoint is not None:
        summary.append([w("summary.checkpoint"), settlement.checkpoint.seq, settlement.checkpoint.head])
    summary.append([])
    summary.append([w("h.currency"), *(w(f"summary.{k}") for k in ("rebates", "fees", "adjustments", "payable"))])
    for t in settlement.totals():
        summary.append([t["currency"], *(Decimal(t[k]) for k in ("rebates", "fees", "adjustments", "payable"))])
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        ("distributors", ["party", "name", "currency", "units_purchased", "units_scanned_out", "coverage",
                          "diverted_units", "purchase_value", "rate", "rebate", "reason"],
         [[d.party, d.name, d.currency, d.units_purchased, d.units_scanned_out, d.coverage, d.diverted_units,
           d.purchase_value, d.rate, d.rebate, d.reason] for d in settlement.distributors]),
        ("stores", ["party", "name", "currency", "units_sold", "flagged_units", "sales_value", "fee_rate", "fee",
                    "reason"],
         [[s.party, s.name, s.currency, s.units_sold, s.flagged_units, s.sales_value, s.fee_rate, s.fee, s.reason]
          for s in settlement.stores]),
        ("adjustments", ["for_period", "kind", "party", "name", "currency", "previously", "restated", "delta",
                         "reason"],
         [[a.for_period, a.kind, a.party, a.name, a.currency, a.previously, a.amount, a.delta, a.reason]
          for a in settlement.adjustments]),
    ]  # fmt: skip
    bold = Font(bold=True)
    for title, header, rows in sheets:
        ws = wb.create_sheet(w(f"sheet.{title}"))
        ws.append([w(f"h.{h}") for h in header])
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A2"
        ws.column_dimensions["B"].width = 28
    for cell in summary[4 if settlement.checkpoint is None else 5]:
        cell.font = bold
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_table(settlement: Settlement) -> str:
    """A plain-text report for the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=160, file=io.StringIO())
    console.print(f"Settlement {settlement.period} ({settlement.status})", style="bold")
    dist = Table("party", "name", "units", "out", "coverage", "diverted", "purchase value", "rate", "rebate",
                 title="Distributors")  # fmt: skip
    for d in settlement.distributors:
        dist.add_row(d.party, d.name, str(d.units_purchased), str(d.units_scanned_out), str(d.coverage or "-"),
                     str(d.diverted_units), f"{d.purchase_value} {d.currency}", str(d.rate), str(d.rebate))  # fmt: skip
    console.print(dist)
    stores = Table("party", "name", "units sold", "flagged", "sales value", "fee", title="Stores")
    for s in settlement.stores:
        stores.add_row(s.party, s.name, str(s.units_sold), str(s.flagged_units), f"{s.sales_value} {s.currency}",
                       str(s.fee))  # fmt: skip
    console.print(stores)
    if settlement.adjustments:
        adj = Table("for period", "kind", "party", "previously", "restated", "delta", title="Adjustments")
        for a in settlement.adjustments:
            adj.add_row(a.for_period, a.kind, a.party, str(a.previously), str(a.amount), str(a.delta))
        console.print(adj)
    for t in settlement.totals():
        console.print(f"{t['currency']}: rebates {t['rebates']} + fees {t['fees']} + adjustments "
                      f"{t['adjustments']} = payable {t['payable']}")  # fmt: skip
    return console.export_text()


# --- PDF ----------------------------------------------------------------------------------------------------------


def _register_font() -> None:
    from traceability.settings import get_settings

    fonts.register(fonts.CJK, override=get_settings().pdf_font_path)


def _bar_chart(title: str, labels: list[str], series: list[list[float]], legend: list[str], width: float,
               height: float) -> Any:  # fmt: skip
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height, initialFontName=FONT)  # else its state starts in Helvetica, not embedded
    drawing.add(String(0, height - 12, title, fontName=FONT, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 40, width - 60, height - 75
    chart.data = series if any(any(v for v in s) for s in series) else [[0.0] * max(1, len(labels))]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 6 else "n"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    palette = [colors.HexColor("#1f77b4"), colors.HexColor("#ff7f0e"), colors.HexColor("#2ca02c")]
    for i in range(len(series)):
        chart.bars[i].fillColor = palette[i % len(palette)]
    drawing.add(chart)
    if len(legend) > 1:
        key = Legend()
        key.x, key.y = width - 150, height - 14
        key.fontName, key.fontSize = FONT, 7
        key.colorNamePairs = [(palette[i], legend[i]) for i in range(len(legend))]
        key.columnMaximum = 1
        key.dx = 8
        key.dy = 8
        drawing.add(key)
    return drawing


def to_pdf(data: ReportData, *, top: int = 12, lang: str = "en") -> bytes:
    """The PDF: a page of charts, then per-distributor and per-store tables with the reason for each rate; every
    word in ``lang`` and in the embedded font (``pdffonts`` lists no font that is not embedded)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import LongTable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    w = _word(lang)
    s = data.settlement
    page = landscape(A4)
    out = io.BytesIO()
    # initialFontName: the canvas's starting font is otherwise Helvetica, named (not embedded) on every page.
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=28, rightMargin=28, topMargin=28, bottomMargin=28,
                            title=w("pdf.doc_title", period=s.period),
                            author="traceability", invariant=1, initialFontName=FONT)  # fmt: skip
    h1 = ParagraphStyle("h1", fontName=FONT, fontSize=16, leading=20)
    h2 = ParagraphStyle("h2", fontName=FONT, fontSize=12, leading=16, spaceBefore=6, spaceAfter=4)
    body = ParagraphStyle("body", fontName=FONT, fontSize=8, leading=10)
    small = ParagraphStyle("small", fontName=FONT, fontSize=6.5, leading=8)
    story: list[Any] = []
    totals = " | ".join(
        w("pdf.totals", currency=t["currency"], rebates=t["rebates"], fees=t["fees"], adjustments=t["adjustments"],
          payable=t["payable"]) for t in s.totals()
    ) or w("pdf.nothing")  # fmt: skip
    story.append(Paragraph(w("pdf.title", period=s.period, status=w(f"status.{s.status}"), timezone=s.timezone), h1))
    story.append(Paragraph(totals, body))
    if s.checkpoint is not None:
        c = s.checkpoint
        story.append(Paragraph(w("pdf.evidence", seq=c.seq, head=c.head, at=c.at, key_id=c.key_id, period=s.period),
                               body))  # fmt: skip
    story.append(Spacer(1, 6))

    width = (page[0] - 56) / 2 - 6
    ranked = sorted(s.distributors, key=lambda d: (-d.purchase_value, d.party))[:top]
    value_chart = _bar_chart(
        w("chart.value"), [d.name[:8] for d in ranked],
        [[float(d.purchase_value) / 1000 for d in ranked]], [w("chart.value.legend")], width, 230,
    )  # fmt: skip
    rebate_chart = _bar_chart(
        w("chart.rebate"), [f"{d.name[:8]}\n{d.rate * 100:.0f} %" for d in ranked],
        [[float(d.rebate) for d in ranked]], [w("chart.rebate.legend")], width, 230,
    )  # fmt: skip
    territory = data.diverted_by_territory[:top]
    terr_chart = _bar_chart(w("chart.territory"), [t[:10] for t, _ in territory],
                            [[float(n) for _, n in territory]], [w("chart.territory.legend")], width, 200)  # fmt: skip
    weeks = data.sales_by_week
    week_chart = _bar_chart(w("chart.weeks"), [wk for wk, _ in weeks],
                            [[float(n) for _, n in weeks]], [w("chart.weeks.legend")], width, 200)  # fmt: skip
    grid = Table([[value_chart, rebate_chart], [terr_chart, week_chart]], colWidths=[width + 6, width + 6])
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT)]))
    story.append(grid)
    story.append(PageBreak())

    commands: list[Any] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (2, 1), (-2, -1), "RIGHT"),
    ]  # fmt: skip
    style = TableStyle(commands)
    story.append(Paragraph(w("pdf.distributors"), h2))
    rows: list[list[Any]] = [[w(f"h.{h}") for h in ("party", "name", "units", "scanned_out", "diverted",
                                                     "purchase_value", "rate", "rebate", "reason")]]  # fmt: skip
    for d in s.distributors:
        rows.append([d.party, Paragraph(d.name, small), d.units_purchased, d.units_scanned_out, d.diverted_units,
                     f"{d.purchase_value} {d.currency}", f"{d.rate * 100:.1f} %", str(d.rebate),
                     Paragraph(d.reason, small)])  # fmt: skip
    table = LongTable(rows, repeatRows=1, colWidths=[60, 90, 40, 48, 40, 80, 36, 56, 330])
    table.setStyle(style)
    story.append(table)
    story.append(Paragraph(w("pdf.stores"), h2))
    rows = [[w(f"h.{h}") for h in ("party", "name", "units_sold", "flagged", "sales_value", "fee_rate", "fee",
                                   "reason")]]  # fmt: skip
    for st in s.stores:
        rows.append([st.party, Paragraph(st.name, small), st.units_sold, st.flagged_units,
                     f"{st.sales_value} {st.currency}", f"{st.fee_rate * 100:.1f} %", str(st.fee),
                     Paragraph(st.reason, small)])  # fmt: skip
    table = LongTable(rows, repeatRows=1, colWidths=[60, 110, 44, 40, 80, 40, 56, 350])
    table.setStyle(style)
    story.append(table)
    if s.adjustments:
        story.append(Paragraph(w("pdf.adjustments"), h2))
        rows = [[w(f"h.{h}") for h in ("for_period", "kind", "party", "previously", "restated", "delta", "reason")]]
        for a in s.adjustments:
            rows.append([a.for_period, a.kind, a.party, str(a.previously), str(a.amount), str(a.delta),
                         Paragraph(a.reason, small)])  # fmt: skip
        table = LongTable(rows, repeatRows=1, colWidths=[50, 56, 60, 60, 60, 56, 430])
        table.setStyle(style)
        story.append(table)

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        if s.checkpoint is not None:
            canvas.drawString(28, 14, w("pdf.footer.checkpoint", seq=s.checkpoint.seq, head=s.checkpoint.head))
        canvas.drawRightString(page[0] - 28, 14, w("pdf.footer.page", period=s.period, page=canvas.getPageNumber()))
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


MEDIA_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render_report(*, session: Session, settlement: Settlement, fmt: str, lang: str = "en") -> bytes:
    """A settlement as a file: ``pdf``, ``csv`` or ``xlsx``, its words in ``lang``."""
    if fmt == "pdf":
        return to_pdf(report_data(session=session, settlement=settlement), lang=lang)
    if fmt == "csv":
        return to_csv(settlement, lang=lang)
    if fmt == "xlsx":
        return to_xlsx(settlement, lang=lang)
    raise ValueError(f"unknown report format {fmt!r}")


def run_report(*, session: Session, period: str, policy: Policy, fmt: str) -> bytes:
    """Settle a period and render it as ``pdf``, ``csv`` or ``xlsx``."""
    return render_report(session=session, settlement=run_settlement(session=session, period=period, policy=policy),
                         fmt=fmt)  # fmt: skip
