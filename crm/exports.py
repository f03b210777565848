"""CSV and XLSX exports of the marketing figures: segments, the yearly top-10, the return, prospects.

Headers are in the reader's language (zh-CN or en); the values are the API's, so a file and a response always
agree. CSV is UTF-8 with a BOM (Excel and WPS then read Chinese right); XLSX is written by openpyxl in write-only
mode (rows are streamed into the file, so a million segment rows never sit in memory as cells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from traceability.i18n import Catalogue, messages, wording

__all__ = ["COLUMNS", "KINDS", "MEDIA_TYPES", "render"]

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

COLUMNS: dict[str, tuple[str, ...]] = {
    "segments": ("member", "store", "tier", "active", "recency_days", "frequency", "units", "monetary",
                 "units_per_purchase", "membership_days", "baby_stage", "source"),
    "top10": ("rank", "member", "store", "name", "year", "regular", "campaign", "granted", "earned"),
    "return-campaigns": ("campaign", "name", "starts_on", "ends_on", "as_of", "members_gained", "gained_units",
                         "gained_value", "campaign_units", "campaign_value", "extra_points", "granted_points",
                         "points_cost"),
    "return-sources": ("source", "from", "as_of", "members", "gained", "buyers", "units", "value", "points_cost"),
    "prospects": ("store", "name", "month", "handed_in", "target", "short_of_target", "met_target", "converted",
                  "credited_units", "credited_value"),
}  # fmt: skip
KINDS = tuple(COLUMNS)

_HEADERS: Catalogue = messages("crm.exports")
_MONEY = frozenset({"monetary", "gained_value", "campaign_value", "value", "credited_value", "units_per_purchase"})


def _cell(key: str, value: Any, lang: str) -> Any:
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh-CN" else ("yes" if value else "no")
    if key in _MONEY and isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def render(kind: str, rows: Iterable[Mapping[str, Any]], fmt: str, lang: str = "en") -> bytes:
    """The rows of an export ``kind`` (:data:`KINDS`) as ``csv`` or ``xlsx`` bytes, headers in ``lang``."""
    columns = COLUMNS[kind]
    header = [wording(_HEADERS, c, lang) for c in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else str(_cell(c, row.get(c), lang)) for c in columns])
        return "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(kind)
        ws.append(header)
        for row in rows:
            ws.append([_cell(c, row.get(c), lang) for c in columns])
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    raise ValueError(f"unknown export format {fmt!r}")
