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

from traceability.i18n import wording

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

_HEADERS: dict[str, dict[str, str]] = {
    "en": {
        "member": "member", "store": "store", "tier": "tier", "active": "active", "recency_days": "days since purchase",
        "frequency": "purchases", "units": "units", "monetary": "value", "units_per_purchase": "units per purchase",
        "membership_days": "days a member", "baby_stage": "stage", "source": "source", "rank": "rank",
        "name": "name", "year": "year", "regular": "regular points", "campaign": "campaign",
        "granted": "granted points", "earned": "points earned", "starts_on": "first day", "ends_on": "last day",
        "as_of": "as of", "members_gained": "members gained", "gained_units": "their units",
        "gained_value": "their value", "campaign_units": "campaign units", "campaign_value": "campaign value",
        "extra_points": "extra points", "granted_points": "granted points", "points_cost": "points cost",
        "from": "from", "members": "members", "gained": "gained", "buyers": "buyers", "value": "value",
        "month": "month", "handed_in": "handed in", "target": "target", "short_of_target": "short of target",
        "met_target": "target met", "converted": "converted", "credited_units": "credited units",
        "credited_value": "credited value",
    },
    "zh-CN": {
        "member": "会员", "store": "门店", "tier": "等级", "active": "活跃", "recency_days": "距上次购买天数",
        "frequency": "购买次数", "units": "件数", "monetary": "金额", "units_per_purchase": "每次件数",
        "membership_days": "入会天数", "baby_stage": "段数", "source": "来源", "rank": "名次", "name": "姓名",
        "year": "年份", "regular": "常规积分", "campaign": "活动", "granted": "赠送积分", "earned": "获得积分",
        "starts_on": "开始日期", "ends_on": "结束日期", "as_of": "截至", "members_gained": "新增会员",
        "gained_units": "新会员件数", "gained_value": "新会员金额", "campaign_units": "活动件数",
        "campaign_value": "活动金额", "extra_points": "活动积分", "granted_points": "赠送积分",
        "points_cost": "积分成本", "from": "起始", "members": "会员数", "gained": "新增", "buyers": "购买会员",
        "value": "金额", "month": "月份", "handed_in": "已提交", "target": "目标", "short_of_target": "差额",
        "met_target": "达标", "converted": "已转化", "credited_units": "计入件数", "credited_value": "计入金额",
    },
}  # fmt: skip
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
