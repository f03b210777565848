"""Two message catalogues (Simplified Chinese and English) and the choice between them.

The users are in China, so Simplified Chinese is the default; a browser that prefers English gets English, and the
switch in the page header stores the choice in a cookie that wins over the browser's ``Accept-Language``. The
pages' messages are the ``web`` context of the system's one gettext catalogue (``traceability/locales``, see
``traceability.i18n``), with ``str.format`` placeholders; tests keep both languages complete and check that every key a
template uses exists. The choice of language is ``traceability.i18n``'s, the same rule the API's messages follow; the
pages add the switch's cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from traceability.i18n import DEFAULT_LANG, SUPPORTED, messages, negotiate

__all__ = ["DEFAULT_LANG", "LANG_COOKIE", "SUPPORTED", "Translator", "catalogue", "negotiate", "translator"]

LANG_COOKIE = "trc_lang"
_PAGES = messages("web")


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """The pages' messages in one language (an unsupported one has none, so English shows)."""
    return dict(_PAGES[lang]) if lang in SUPPORTED else {}


Translator = Callable[..., str]


def translator(lang: str) -> Translator:
    """``_(key, **values)`` for templates: the message in ``lang``, else English, else the key itself."""
    messages = catalogue(lang)
    fallback = catalogue("en")

    def _(key: str, **values: Any) -> str:
        text = messages.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return _
