"""Matching keys: the one spelling of an identifier, whatever form it arrived in.

Two systems name one unit in different ways: an EPC URN (``urn:epc:id:sgtin:6901234.000010.A%2FB``), a GS1 Digital
Link on any host with any percent-encoding (``https://example.com/01/06901234000108/21/A%2fB``), an element string
(``(01)06901234000108(21)A/B``), or one of our own signed codes. Everything that matches events to units, codes to
events, or sales to purchases compares *keys*, so all of these must give the same one. A key is the constrained
canonical GS1 Digital Link of the item: ``https://id.gs1.org``, numeric AIs, a 14-digit GTIN, no query string, and
each value decoded exactly once and encoded one way (GS1's literal characters ``-._';=`` kept, all else
percent-encoded). A text that holds no GS1 key is its own key.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import quote, unquote

from biip import ParseConfig
from biip.gs1_messages import GS1Message

from ledger.event_hash import MEMO_CHARS, MEMO_SIZE, canonical_gs1_uri

__all__ = [
    "ROOT",
    "code_key",
    "encode_value",
    "gln_key",
    "gtin_of",
    "is_sgtin_key",
    "is_sscc_key",
    "key_of",
    "serial_of",
    "sgtin_key",
    "sscc_key",
    "sscc_of",
]

ROOT: Final = "https://id.gs1.org/"
_SGTIN_ROOT: Final = ROOT + "01/"
_SSCC_ROOT: Final = ROOT + "00/"
_LITERAL: Final = "-._';="
"""Characters of GS1 character set 82 a Digital Link carries unescaped (the same set the event hash keeps)."""
_SERIAL_TAIL: Final = re.compile(r"[^/?#]+")
_GS: Final = "\x1d"
_GS_PLACEHOLDERS: Final = ("<GS>", "{GS}", "^")
_BIIP: Final = ParseConfig(separator_chars=[_GS])


def encode_value(value: str) -> str:
    """Percent-encode one *decoded* AI value the canonical way."""
    return quote(value, safe=_LITERAL)


def sgtin_key(gtin: str, serial: str) -> str:
    """The key of a trade-item instance: GTIN-14 and the serial as printed (not escaped)."""
    return f"{_SGTIN_ROOT}{gtin}/21/{encode_value(serial)}"


def sscc_key(sscc: str) -> str:
    """The key of a logistic unit (case or pallet)."""
    return _SSCC_ROOT + sscc


def gln_key(gln: str) -> str:
    """The key of a location or party."""
    return f"{ROOT}414/{gln}"


def code_key(gtin: str | None, serial: str | None, sscc: str | None) -> str:
    """The key of a code record (``Code`` row): its SSCC, else its GTIN and serial."""
    if sscc:
        return sscc_key(sscc)
    return sgtin_key(gtin or "", serial or "")


def key_of(text: str) -> str:
    """The key of an identifier in any form: EPC URN, Digital Link, element string (plain or with parentheses).

    Surrounding whitespace is ignored; a text that holds no GS1 key (another scheme, a typo) is its own key, so an
    unknown identifier still matches itself. Remembered for short texts, as :func:`canonical_gs1_uri` is.
    """
    if len(text) <= MEMO_CHARS:
        return _remembered_key(text)
    return _key_of(text)


def _key_of(text: str) -> str:
    body = text.strip()
    canonical = canonical_gs1_uri(body)
    if canonical is not None:
        return canonical
    element = _element_string_key(body)
    return element if element is not None else body


_remembered_key = lru_cache(maxsize=MEMO_SIZE)(_key_of)


def gtin_of(key: str) -> str | None:
    """The GTIN of an SGTIN key, else None (cases and pallets under an SSCC, locations, other schemes)."""
    # A prefix and slice test first: this runs for every code of a full re-evaluation.
    if not key.startswith(_SGTIN_ROOT) or key[36:40] != "/21/" or len(key) == 40:
        return None
    gtin = key[22:36]
    return gtin if gtin.isdigit() and _SERIAL_TAIL.fullmatch(key, 40) else None


def serial_of(key: str) -> str | None:
    """The serial of an SGTIN key, decoded (as printed on the label)."""
    return unquote(key[40:]) if gtin_of(key) is not None else None


def sscc_of(key: str) -> str | None:
    """The SSCC of an SSCC key, else None."""
    if key.startswith(_SSCC_ROOT) and len(key) == len(_SSCC_ROOT) + 18 and key[len(_SSCC_ROOT) :].isdigit():
        return key[len(_SSCC_ROOT) :]
    return None


def is_sgtin_key(key: str) -> bool:
    """Whether a key names a trade-item instance (GTIN + serial)."""
    return gtin_of(key) is not None


def is_sscc_key(key: str) -> bool:
    """Whether a key names a logistic unit by its SSCC."""
    return sscc_of(key) is not None


# --- element strings ------------------------------------------------------------------------------------------------


def _element_string_key(body: str) -> str | None:
    """The key an element string carries (AI 00, or AI 01 with AI 21), or None when it is not one.

    biip reads the AI table; the scan parser, not this, judges the rest (signatures, dates against our rules).
    """
    if body.startswith("]") and len(body) > 3:
        body = body[3:]  # a symbology identifier says which symbol was read, not what it holds
    if len(body) == 18 and body.isdigit():
        return sscc_key(body)  # an SSCC as a plain Code 128 or typed by hand
    if not body[:1].isdigit() and not body.startswith("("):
        return None
    for placeholder in _GS_PLACEHOLDERS:
        body = body.replace(placeholder, _GS)
    try:
        if body.startswith("("):
            message = GS1Message.parse_hri(body, config=_BIIP)
        else:
            message = GS1Message.parse(body.strip(_GS), config=_BIIP)
    except Exception:  # biip raises ParseError; any text that is no element string is simply not one
        return None
    fields = {e.ai.ai: e.value for e in message.element_strings}
    if "00" in fields:
        return sscc_key(fields["00"])
    if "01" in fields and "21" in fields:
        return sgtin_key(fields["01"], fields["21"])
    return None
