"""Finance reports of a settlement: a terminal table, CSV (UTF-8 with BOM), XLSX and a PDF with a chart page.

Party and product names are often Chinese. The PDF uses reportlab's built-in CID font ``STSong-Light`` (no font file
to ship), the CSV starts with a BOM so spreadsheet programs read it as UTF-8, and XLSX is Unicode by nature.
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

FONT = "STSong-Light"
_COLUMNS = ["section", "for_period", "party", "name", "currency", "units", "units_scanned_out_or_flagged",
            "diverted_units", "value", "rate", "amount", "reason"]  # fmt: skip


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


def _rows(s: Settlement) -> Iterable[list[Any]]:
    for d in s.distributors:
        yield ["distributor", s.period, d.party, d.name, d.currency, d.units_purchased, d.units_scanned_out,
               d.diverted_units, d.purchase_value, d.rate, d.rebate, d.reason]  # fmt: skip
    for st in s.stores:
        yield ["store", s.period, st.party, st.name, st.currency, st.units_sold, st.flagged_units, 0,
               st.sales_value, st.fee_rate, st.fee, st.reason]  # fmt: skip
    for a in s.adjustments:
        yield ["adjustment", a.for_period, a.party, a.name, a.currency, "", "", "", a.previously, "", a.delta,
               a.reason]  # fmt: skip
    for t in s.totals():
        yield ["total", s.period, "", "", t["currency"], "", "", "", "", "", Decimal(t["payable"]),
               f"rebates {t['rebates']} + fees {t['fees']} + adjustments {t['adjustments']}"]  # fmt: skip


def to_csv(settlement: Settlement) -> bytes:
    """One table, one row per line, UTF-8 with a BOM so Excel and WPS open Chinese names right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_COLUMNS)
    for row in _rows(settlement):
        writer.writerow(["" if v is None else str(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(settlement: Settlement) -> bytes:
    """A workbook: a summary sheet, then distributors, stores and adjustments, with numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=False)
    summary = wb.active
    assert summary is not None
    summary.title = "Summary"
    summary.append(["Settlement", settlement.period, settlement.status])
    summary.append(["Period (UTC)", settlement.starts_at.isoformat(), settlement.ends_at.isoformat()])
    if settlement.checkpoint is not None:
        summary.append(["Chain checkpoint", settlement.checkpoint.seq, settlement.checkpoint.head])
    summary.append([])
    summary.append(["currency", "rebates", "fees", "adjustments", "payable"])
    for t in settlement.totals():
        summary.append([t["currency"], *(Decimal(t[k]) for k in ("rebates", "fees", "adjustments", "payable"))])
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        ("Distributors", ["party", "name", "currency", "units purchased", "units scanned out", "coverage",
                          "diverted units", "purchase value", "rate", "rebate", "reason"],
         [[d.party, d.name, d.currency, d.units_purchased, d.units_scanned_out, d.coverage, d.diverted_units,
           d.purchase_value, d.rate, d.rebate, d.reason] for d in settlement.distributors]),
        ("Stores", ["party", "name", "currency", "units sold", "flagged units", "sales value", "fee rate", "fee",
                    "reason"],
         [[s.party, s.name, s.currency, s.units_sold, s.flagged_units, s.sales_value, s.fee_rate, s.fee, s.reason]
          for s in settlement.stores]),
        ("Adjustments", ["for period", "kind", "party", "name", "currency", "previously", "restated", "delta",
                         "reason"],
         [[a.for_period, a.kind, a.party, a.name, a.currency, a.previously, a.amount, a.delta, a.reason]
          for a in settlement.adjustments]),
    ]  # fmt: skip
    bold = Font(bold=True)
    for title, header, rows in sheets:
        ws = wb.create_sheet(title)
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A2"
        ws.column_dimensions["B"].width = 28
    for cell in summary[4]:
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
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _bar_chart(title: str, labels: list[str], series: list[list[float]], legend: list[str], width: float,
               height: float) -> Any:  # fmt: skip
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, title, fontName="Helvetica-Bold", fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 40, width - 60, height - 75
    chart.data = series if any(any(v for v in s) for s in series) else [[0.0] * max(1, len(labels))]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 6 else "n"
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


def to_pdf(data: ReportData, *, top: int = 12) -> bytes:
    """The PDF: a page of charts, then per-distributor and per-store tables with the reason for each rate."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import LongTable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    s = data.settlement
    page = landscape(A4)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=28, rightMargin=28, topMargin=28, bottomMargin=28,
                            title=f"Settlement {s.period}", author="traceability", invariant=1)  # fmt: skip
    # Headings and totals are ASCII: Helvetica reads better there; names and reasons need the CID font.
    h1 = ParagraphStyle("h1", fontName="Helvetica-Bold", fontSize=16, leading=20)
    h2 = ParagraphStyle("h2", fontName="Helvetica-Bold", fontSize=12, leading=16, spaceBefore=6, spaceAfter=4)
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=8, leading=10)
    small = ParagraphStyle("small", fontName=FONT, fontSize=6.5, leading=8)
    story: list[Any] = []
    totals = " | ".join(
        f"{t['currency']}: rebates {t['rebates']}, store fees {t['fees']}, adjustments {t['adjustments']}, "
        f"payable {t['payable']}" for t in s.totals()
    ) or "nothing payable"  # fmt: skip
    story.append(Paragraph(f"Settlement {s.period} — {s.status} ({s.timezone})", h1))
    story.append(Paragraph(totals, body))
    if s.checkpoint is not None:
        c = s.checkpoint
        story.append(Paragraph(
            f"Evidence: locked on event {c.seq} of the hash chain, head {c.head}, signed {c.at} with key "
            f"'{c.key_id}'. Check that nothing it was settled from changed since: traceability settlement "
            f"checkpoint --period {s.period} --out FILE, then traceability epcis verify-chain --checkpoint FILE.",
            body,
        ))  # fmt: skip
    story.append(Spacer(1, 6))

    width = (page[0] - 56) / 2 - 6
    ranked = sorted(s.distributors, key=lambda d: (-d.purchase_value, d.party))[:top]
    value_chart = _bar_chart(
        "Purchase value by distributor (thousands)", [d.name[:8] for d in ranked],
        [[float(d.purchase_value) / 1000 for d in ranked]], ["purchase value"], width, 230,
    )  # fmt: skip
    rebate_chart = _bar_chart(
        "Rebate by distributor (rate under the name)", [f"{d.name[:8]}\n{d.rate * 100:.0f} %" for d in ranked],
        [[float(d.rebate) for d in ranked]], ["rebate"], width, 230,
    )  # fmt: skip
    territory = data.diverted_by_territory[:top]
    terr_chart = _bar_chart("Diverted units by territory", [t[:10] for t, _ in territory],
                            [[float(n) for _, n in territory]], ["diverted units"], width, 200)  # fmt: skip
    weeks = data.sales_by_week
    week_chart = _bar_chart("Sell-through by week (units, week starting)", [w for w, _ in weeks],
                            [[float(n) for _, n in weeks]], ["units"], width, 200)  # fmt: skip
    grid = Table([[value_chart, rebate_chart], [terr_chart, week_chart]], colWidths=[width + 6, width + 6])
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(grid)
    story.append(PageBreak())

    style = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), "Helvetica"), ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (2, 1), (-2, -1), "RIGHT"),
    ])  # fmt: skip
    story.append(Paragraph("Distributors: rebate and the reason for its rate", h2))
    rows: list[list[Any]] = [["party", "name", "units", "scanned out", "diverted", "purchase value", "rate", "rebate",
                              "reason"]]  # fmt: skip
    for d in s.distributors:
        rows.append([d.party, Paragraph(d.name, small), d.units_purchased, d.units_scanned_out, d.diverted_units,
                     f"{d.purchase_value} {d.currency}", f"{d.rate * 100:.1f} %", str(d.rebate),
                     Paragraph(d.reason, small)])  # fmt: skip
    table = LongTable(rows, repeatRows=1, colWidths=[60, 90, 40, 48, 40, 80, 36, 56, 330])
    table.setStyle(style)
    story.append(table)
    story.append(Paragraph("Stores: fees on sell-through", h2))
    rows = [["party", "name", "units sold", "flagged", "sales value", "fee rate", "fee", "reason"]]
    for st in s.stores:
        rows.append([st.party, Paragraph(st.name, small), st.units_sold, st.flagged_units,
                     f"{st.sales_value} {st.currency}", f"{st.fee_rate * 100:.1f} %", str(st.fee),
                     Paragraph(st.reason, small)])  # fmt: skip
    table = LongTable(rows, repeatRows=1, colWidths=[60, 110, 44, 40, 80, 40, 56, 350])
    table.setStyle(style)
    story.append(table)
    if s.adjustments:
        story.append(Paragraph("Adjustments: locked periods restated", h2))
        rows = [["for period", "kind", "party", "previously", "restated", "delta", "reason"]]
        for a in s.adjustments:
            rows.append([a.for_period, a.kind, a.party, str(a.previously), str(a.amount), str(a.delta),
                         Paragraph(a.reason, small)])  # fmt: skip
        table = LongTable(rows, repeatRows=1, colWidths=[50, 56, 60, 60, 60, 56, 430])
        table.setStyle(style)
        story.append(table)

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        if s.checkpoint is not None:
            canvas.drawString(28, 14, f"chain checkpoint: event {s.checkpoint.seq}, head {s.checkpoint.head}")
        canvas.drawRightString(page[0] - 28, 14, f"Settlement {s.period} | page {canvas.getPageNumber()}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


MEDIA_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render_report(*, session: Session, settlement: Settlement, fmt: str) -> bytes:
    """A settlement as a file: ``pdf``, ``csv`` or ``xlsx``."""
    if fmt == "pdf":
        return to_pdf(report_data(session=session, settlement=settlement))
    if fmt == "csv":
        return to_csv(settlement)
    if fmt == "xlsx":
        return to_xlsx(settlement)
    raise ValueError(f"unknown report format {fmt!r}")


def run_report(*, session: Session, period: str, policy: Policy, fmt: str) -> bytes:
    """Settle a period and render it as ``pdf``, ``csv`` or ``xlsx``."""
    return render_report(session=session, settlement=run_settlement(session=session, period=period, policy=policy),
                         fmt=fmt)  # fmt: skip
