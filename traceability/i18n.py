"""The two languages of the system (Simplified Chinese and English), the choice between them for a request, the one
message catalogue and the per-locale formatting of numbers, money and dates.

One rule for every door: the pages (``web.i18n``, which adds the language switch's cookie) and the API's messages
(scan warnings) both pick the language here. The users are in China, so Simplified Chinese is the default; a client
that prefers English gets English.

Every user-facing string lives in one gettext catalogue per language, ``traceability/locales/<ll_CC>/LC_MESSAGES/
messages.po``, read with Babel: translators and their tools (Poedit, Weblate) work on standard files, and one test
checks both languages complete with the same ``{named}`` fields. A package's messages are a *context* in it
(``msgctxt "pos.errors"``; the pages are ``web``) and their ids are stable keys, so a wording can change without
touching code. ``messages(domain)`` gives a package its part as ``language → key → text``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_skeleton
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

__all__ = [
    "DEFAULT_LANG",
    "LOCALES_DIR",
    "SUPPORTED",
    "Catalogue",
    "format_day",
    "format_money",
    "format_number",
    "format_when",
    "messages",
    "negotiate",
    "po_path",
    "wording",
]

SUPPORTED = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LOCALES_DIR = Path(__file__).parent / "locales"
_BABEL = {"zh-CN": Locale.parse("zh_Hans_CN"), "en": Locale.parse("en")}


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, cookie: str | None = None) -> str:
    """The language: a chosen one (the switch's cookie) if supported, else the most preferred we have, else Chinese."""
    if cookie in SUPPORTED:
        assert cookie is not None
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        lang = _match(tag)
        if lang is not None and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else DEFAULT_LANG


Catalogue = Mapping[str, Mapping[str, str]]
"""A package's messages: language → key → text with ``{named}`` fields."""


class _Unknown(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def wording(catalogue: Catalogue, key: str, lang: str, **params: Any) -> str:
    """The message ``key`` of a package's catalogue in ``lang`` (English when the language or the key is missing
    there, else the key itself), a field the caller did not give shown as ``?`` rather than failing."""
    english = catalogue["en"]
    return catalogue.get(lang, english).get(key, english.get(key, key)).format_map(_Unknown(params))


# --- the one catalogue -----------------------------------------------------------------------------------------


def po_path(lang: str) -> Path:
    """Where a language's catalogue lives, in gettext's layout (``zh-CN`` → ``zh_CN``)."""
    return LOCALES_DIR / lang.replace("-", "_") / "LC_MESSAGES" / "messages.po"


@lru_cache
def _contexts(lang: str) -> dict[str, dict[str, str]]:
    """A language's catalogue, read once: context → key → text (untranslated entries left out, so they fall back)."""
    with po_path(lang).open("rb") as f:
        po = read_po(f, locale=lang.replace("-", "_"))
    out: dict[str, dict[str, str]] = {}
    for message in po:
        if (message.id and isinstance(message.id, str) and isinstance(message.string, str) and message.string
                and not message.fuzzy):  # a fuzzy entry is a guess awaiting review, as gettext treats it
            out.setdefault(message.context or "", {})[message.id] = message.string
    return out


class _Domain(Mapping[str, Mapping[str, str]]):
    """One package's part of the catalogue, read on first use (importing a package costs no file read)."""

    __slots__ = ("_domain",)

    def __init__(self, domain: str) -> None:
        self._domain = domain

    def __getitem__(self, lang: str) -> Mapping[str, str]:
        if lang not in SUPPORTED:
            raise KeyError(lang)
        return _contexts(lang).get(self._domain, {})

    def __iter__(self) -> Iterator[str]:
        return iter(SUPPORTED)

    def __len__(self) -> int:
        return len(SUPPORTED)

    def __repr__(self) -> str:
        return f"messages({self._domain!r})"


def messages(domain: str) -> Catalogue:
    """A package's messages (``msgctxt domain`` of the one catalogue) as language → key → text."""
    return _Domain(domain)


# --- numbers, money and dates per locale ---------------------------------------------------------------------------


def _locale(lang: str) -> Locale:
    return _BABEL.get(lang, _BABEL[DEFAULT_LANG])


def format_number(value: int | float | Decimal, lang: str) -> str:
    """A count or quantity grouped as the language writes it (``1,234,567``)."""
    return format_decimal(value, locale=_locale(lang))


def format_money(amount: Decimal | str | int, currency: str, lang: str) -> str:
    """An amount in its currency with two decimals, rounded half-even (``¥1,234.50``; ``CN¥1,234.50`` in English)."""
    return format_currency(Decimal(amount), currency, locale=_locale(lang), format_type="standard",
                           currency_digits=False)  # two decimals whatever the currency: what settlement holds


def format_day(value: date, lang: str) -> str:
    """A day as the language writes it (``2026年12月2日``, ``Dec 2, 2026``): no ambiguous 12/2 in either."""
    return format_skeleton("yMMMd", value, locale=_locale(lang))


def format_when(value: datetime, lang: str) -> str:
    """A moment to the minute: the day as ``format_day`` writes it, then 24-hour time (``2026年12月2日 13:05``)."""
    return f"{format_day(value, lang)} {format_skeleton('Hm', value, locale=_locale(lang))}"
