"""Two message catalogues (Simplified Chinese and English) and the choice between them.

The users are in China, so Simplified Chinese is the default; a browser that prefers English gets English, and the
switch in the page header stores the choice in a cookie that wins over the browser's ``Accept-Language``. The
catalogues are flat JSON files (``web/locales/<lang>.json``) with ``str.format`` placeholders; a test keeps their key
sets equal and checks that every key a template uses exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_LANG", "LANG_COOKIE", "SUPPORTED", "Translator", "catalogue", "negotiate", "translator"]

SUPPORTED = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LANG_COOKIE = "trc_lang"
_DIR = Path(__file__).parent / "locales"


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language, read once."""
    data: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, cookie: str | None = None) -> str:
    """The page language: the switch's cookie, else the browser's most preferred language we have, else Chinese."""
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


Translator = Callable[..., str]


def translator(lang: str) -> Translator:
    """``_(key, **values)`` for templates: the message in ``lang``, else English, else the key itself."""
    messages = catalogue(lang)
    fallback = catalogue("en")

    def _(key: str, **values: Any) -> str:
        text = messages.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return _
