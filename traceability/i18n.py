"""The two languages of the system (Simplified Chinese and English) and the choice between them for a request.

One rule for every door: the pages (``web.i18n``, which adds the language switch's cookie) and the API's messages
(scan warnings) both pick the language here. The users are in China, so Simplified Chinese is the default; a client
that prefers English gets English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_LANG", "SUPPORTED", "Catalogue", "negotiate", "wording"]

SUPPORTED = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"


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
