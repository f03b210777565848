"""The one message catalogue: both languages complete, the same fields in each, nothing left outside it."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.pofile import read_po

from traceability.i18n import (
    SUPPORTED,
    format_day,
    format_money,
    format_number,
    format_when,
    messages,
    po_path,
    wording,
)

ROOT = Path(__file__).resolve().parents[2]


def _entries(lang: str) -> dict[tuple[str, str], str]:
    with po_path(lang).open("rb") as f:
        po = read_po(f)
    return {(m.context or "", str(m.id)): str(m.string) for m in po if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_both_languages_have_every_message_with_the_same_fields() -> None:
    zh, en = _entries("zh-CN"), _entries("en")
    assert zh.keys() == en.keys()
    assert len(zh) > 900  # the pages, the API's problems, exports, receipts and tickets
    empty = sorted(k for k in zh if not zh[k].strip() or not en[k].strip())
    assert not empty, empty[:10]
    differ = sorted(k for k in zh if _fields(zh[k]) != _fields(en[k]))
    assert not differ, [(k, zh[k], en[k]) for k in differ[:5]]


def test_chinese_messages_are_chinese() -> None:
    """A Chinese entry that is the English text copied over is an untranslated one (codes and units excepted)."""
    zh, en = _entries("zh-CN"), _entries("en")
    same = sorted(k for k in zh if zh[k] == en[k] and any(c.isalpha() and c.isascii() for c in en[k])
                  and len(en[k].split()) > 1)  # fmt: skip
    assert not same, same[:10]


def test_no_message_is_left_in_code_or_json() -> None:
    """Every package takes its words from the catalogue: no ``{"en": ..., "zh-CN": ...}`` dict, no JSON file."""
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "fold_catalogues.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_package_reads_its_context() -> None:
    words = messages("traceability.masterdata.errors")
    assert set(words) == set(SUPPORTED)
    assert wording(words, "gln_invalid", "zh-CN", gln="123") == "123 不是校验位正确的 13 位 GLN。"
    assert wording(words, "gln_invalid", "fr", gln="123").startswith("123 is not")  # unsupported: English
    with pytest.raises(KeyError):
        words["fr"]


def test_numbers_money_and_dates_per_locale() -> None:
    assert format_number(1234567, "zh-CN") == "1,234,567" == format_number(1234567, "en")
    assert format_money(Decimal("1234.5"), "CNY", "zh-CN") == "¥1,234.50"
    assert format_money("-0.125", "CNY", "zh-CN") == "-¥0.12"  # half-even, as settlement rounds
    assert format_money(Decimal("64.32"), "CNY", "en") == "CN¥64.32"
    assert format_money("1234.5", "JPY", "en") == "¥1,234.50"  # two decimals whatever the currency's own digits
    assert format_day(date(2026, 12, 2), "zh-CN") == "2026年12月2日"
    assert format_day(date(2026, 12, 2), "en") == "Dec 2, 2026"
    assert format_when(datetime(2026, 12, 2, 13, 5), "zh-CN") == "2026年12月2日 13:05"
    assert format_when(datetime(2026, 12, 2, 13, 5), "en") == "Dec 2, 2026 13:05"
