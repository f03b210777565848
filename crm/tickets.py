"""The day's call list as a 58 mm ticket: plain HTML the POS browser prints on its receipt printer."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from traceability.i18n import Catalogue, messages

__all__ = ["ticket_html"]

_WORDS: Catalogue = messages("crm.tickets")


def ticket_html(*, tasks: list[dict[str, Any]], day: date, store: str | None, lang: str = "zh-CN") -> str:
    """A 58 mm wide page (48 mm printable) of the open tasks in ``tasks``, every text escaped."""
    w = _WORDS.get(lang, _WORDS["en"])
    rows = []
    for t in tasks:
        if t["status"] != "open":
            continue
        who = escape(t["name"] or f"{w['member']} #{t['member']}")
        rows.append(
            f"<li><b>{escape(t['kind_text'])}</b> · {who} <small>#{t['member']}</small><br>"
            f"{escape(t['reason_text'])}<br><small>{w['due']} {escape(t['due'])}</small></li>"
        )
    body = "<ol>" + "".join(rows) + "</ol>" if rows else f"<p>{w['none']}</p>"
    where = f"<p>{w['store']} {escape(store)}</p>" if store else ""
    return (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8"><title>{w["title"]}</title>'
        "<style>@page{size:58mm auto;margin:0}body{width:48mm;margin:0 5mm;font:12px/1.35 sans-serif}"
        "h1{font-size:14px;margin:4px 0}ol{padding-left:16px;margin:0}li{margin:0 0 6px;border-bottom:1px dashed #000;"
        "padding-bottom:4px}small{font-size:10px}</style></head>"
        f"<body><h1>{w['title']} {day.isoformat()}</h1>{where}{body}</body></html>"
    )
