"""Receipts of a sale: a printable 58 mm page (HTML), and ESC/POS bytes for a thermal receipt printer.

ESC/POS is made with python-escpos (maintained, the usual library for these printers): its ``Dummy`` printer
collects the bytes, which are downloaded or sent to the store's network printer (raw TCP, port 9100 by default).
Chinese text goes out in GB18030, the encoding Chinese receipt printers read in their Chinese mode. A receipt shows
the member's id, never her phone; the serial's last characters, never the whole signed code.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pos.errors import PrinterUnreachable
from pos.service import SaleRecord
from traceability.i18n import Catalogue, messages

__all__ = ["WIDTH_CHARS", "Connect", "escpos_bytes", "receipt_html", "receipt_lines", "send_to_printer"]

WIDTH_CHARS = 32
"""Characters per line on 58 mm paper with the printer's font A (16 Chinese characters)."""

_WORDS: Catalogue = messages("pos.receipts")
_ERRORS: Catalogue = messages("pos.errors")

_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _words(lang: str) -> Mapping[str, str]:
    return _WORDS.get(lang, _WORDS["en"])


def receipt_lines(record: SaleRecord, lang: str) -> dict[str, Any]:
    """What every receipt says, worded in ``lang``: the page and the printer print the same facts."""
    w = _words(lang)
    member = record.member
    lines: dict[str, Any] = {
        "store": record.store_name, "store_no": record.member_store_no, "sale": record.sale_id.rsplit(":", 1)[-1][:13],
        "time": record.at.strftime("%Y-%m-%d %H:%M"), "kind": record.kind, "undone": record.undone,
        "items": [{"name": (w["case"] if i.case else i.name) or i.gtin or "?", "gtin": i.gtin or "",
                   "tail": i.serial_tail} for i in record.items],
        "member": None,
    }  # fmt: skip
    if member is not None:
        lines["member"] = {
            "id": member["id"], "points_earned": member["points_earned"], "points": member["points"],
            "progress": f"{member['progress']['count']} / {member['progress']['of']}",
            "free_available": member["free_available"],
        }  # fmt: skip
    return lines


def receipt_html(record: SaleRecord, lang: str) -> str:
    """The 58 mm receipt page: opens in a tab, prints itself from the browser's print dialog."""
    return _ENV.get_template("receipt.html").render(r=receipt_lines(record, lang), w=_words(lang), lang=lang)


def _printer() -> Any:
    # Imported here: python-escpos costs a server ~10 MB of memory, which only ESC/POS receipts need.
    from escpos.printer import Dummy

    printer = Dummy(profile="default")
    # 58 mm paper: 384 dots across; the profile's width lets centring work (and keeps python-escpos from warning).
    printer.profile.profile_data.setdefault("media", {}).setdefault("width", {})["pixel"] = 384
    return printer


def escpos_bytes(record: SaleRecord, lang: str) -> bytes:
    """The receipt as ESC/POS commands for a 58 mm thermal printer (text in GB18030, a cut at the end)."""
    r, w = receipt_lines(record, lang), _words(lang)
    p = _printer()

    def line(text: str = "") -> None:
        # Raw bytes: Chinese printers print GB18030 in their Chinese mode, which python-escpos's code pages lack.
        p._raw(text.encode("gb18030", errors="replace") + b"\n")

    p.set(align="center", bold=True, double_height=True)
    line(r["store"])
    p.set(align="center", bold=False, normal_textsize=True)
    if r["store_no"]:
        line(f"{w['store_no']} {r['store_no']}")
    line(w["title"])
    p.set(align="left")
    line("-" * WIDTH_CHARS)
    line(f"{w['sale']}: {r['sale']}")
    line(f"{w['time']}: {r['time']}")
    if r["kind"] == "free":
        p.set(bold=True)
        line(w["free"])
        p.set(bold=False)
    if r["undone"]:
        p.set(bold=True)
        line(w["undone"])
        p.set(bold=False)
    line("-" * WIDTH_CHARS)
    for item in r["items"]:
        line(str(item["name"]))
        line(f"  {item['gtin']}  …{item['tail']}")
    line(f"{w['units']}: {len(r['items'])}")
    line("-" * WIDTH_CHARS)
    m = r["member"]
    if m is None:
        line(w["no_member"])
    else:
        line(f"{w['member']}: #{m['id'] if m['id'] is not None else '—'}")
        line(f"{w['points_earned']}: {m['points_earned']}")
        line(f"{w['balance']}: {m['points']}")
        line(f"{w['progress']}: {m['progress']}")
        if m["free_available"]:
            line(w["free_waiting"].format(n=m["free_available"]))
    p.set(align="center")
    line()
    line(w["thanks"])
    p.cut()
    return bytes(p.output)


Connect = Callable[[str, int, float], socket.socket]
"""How to reach a printer: ``socket.create_connection`` by default; tests pass their own listener's address."""


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def send_to_printer(data: bytes, *, host: str, port: int = 9100, timeout: float = 5.0,
                    connect: Connect = _connect) -> int:  # fmt: skip
    """Send ESC/POS bytes to a network receipt printer (raw TCP); the bytes sent, or 502 when it does not answer."""
    try:
        with connect(host, port, timeout) as conn:
            conn.sendall(data)
    except OSError as exc:
        why = type(exc).__name__
        raise PrinterUnreachable.keyed(_ERRORS, "printer_unreachable", host=host, port=port, why=why) from None
    return len(data)
