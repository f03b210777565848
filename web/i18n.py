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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from traceability.i18n import (
    DEFAULT_LANG,
    SUPPORTED,
    format_day,
    format_money,
    format_number,
    format_when,
    messages,
    negotiate,
    wording,
)

__all__ = ["DEFAULT_LANG", "LANG_COOKIE", "SUPPORTED", "Phrase", "Translator", "catalogue", "formats", "negotiate",
           "phrase", "translator"]  # fmt: skip

LANG_COOKIE = "trc_lang"
_PAGES = messages("web")


@dataclass(frozen=True, slots=True)
class Phrase:
    """Page words quoted in an error's message (a role's name, the list of statuses there are), worded in the
    language the message is rendered in (``traceability.errors.Worded``)."""

    keys: tuple[str, ...]

    def text(self, lang: str) -> str:
        return ", ".join(wording(_PAGES, key, lang) for key in self.keys)


def phrase(*keys: str) -> Phrase:
    """``Phrase`` of page keys, joined as a list when there are several."""
    return Phrase(keys)


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


def formats(lang: str, zone: str = "UTC") -> dict[str, Callable[..., str]]:
    """What templates write numbers, money and moments with, in ``lang``: ``num(n)``, ``money(amount, currency)``,
    ``day(d)`` and ``when(moment)`` — a stored instant (naive ones are UTC) shown on the brand's clock (``zone``,
    the policy's time zone), so an auditor in Shanghai does not read UTC as local time."""
    tz = ZoneInfo(zone)

    def when(moment: datetime | str | None, seconds: bool = False) -> str:
        if moment is None or moment == "":
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        local = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(tz)
        text = format_when(local, lang)
        return f"{text}:{local:%S}" if seconds else text

    def day(value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(tz).date()
        return format_day(value, lang)

    def num(value: int | float | Decimal | None) -> str:
        return "" if value is None else format_number(value, lang)

    def money(amount: Decimal | str | int, currency: str) -> str:
        return format_money(amount, currency, lang)

    return {"when": when, "day": day, "num": num, "money": money}
