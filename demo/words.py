"""What the demo says while it runs and in its summary, in Chinese (the default, as for every user) or English."""

from __future__ import annotations

from typing import Any

from traceability.i18n import Catalogue, messages, wording

__all__ = ["word"]

_WORDS: Catalogue = messages("demo.words")


def word(key: str, lang: str = "zh-CN", **params: Any) -> str:
    """The demo's message ``key`` in ``lang``; a value with no entry of its own (a new alert kind) shows as itself."""
    text = wording(_WORDS, key, lang, **params)
    return key.partition(".")[2] if text == key and "." in key else text
