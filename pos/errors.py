"""Errors of the point of sale, rendered by the one handler like every :class:`TraceabilityError`, and their words in
the two languages (zh-CN, en) a till asks for.

TraceabilityError
├── NotFound (404)
│   └── SaleNotFound        no sale rung up at this store has that id
├── Conflict (409)
│   ├── UndoTooLate         a sale is undone the same day (the policy's time zone) only; later, finance restates it
│   ├── FreeUnitGiven       undoing the sale would take back a free unit already given: undo the free unit first
│   └── NoFreeUnit          no free unit is due to the member (six-get-one)
├── InvalidInput (422)
│   ├── TillInvalid         a request the till cannot ring up (``reason`` says which rule: member_required, …)
│   └── PrinterInvalid      a receipt printer setting that cannot work (ESC/POS without a host, a bad port)
├── Forbidden (403)
│   └── NotYourStore        a store key acting for another store, or a role that has no till
└── PrinterUnreachable (502) the store's network receipt printer did not take the receipt
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound, TraceabilityError
from traceability.i18n import Catalogue, messages, wording

__all__ = [
    "FreeUnitGiven",
    "NoFreeUnit",
    "NotYourStore",
    "PrinterInvalid",
    "PrinterUnreachable",
    "SaleNotFound",
    "TillInvalid",
    "UndoTooLate",
    "reject_message",
    "word",
]

_MESSAGES: Catalogue = messages("pos.errors")

# The scanners' refusals, worded for a clerk who reads Chinese; the scanning domain words them in English.
_REJECTIONS_ZH: dict[str, str] = {
    "already_sold": "该商品已售出",
    "already_commissioned": "该码已激活",
    "bad_signature": "签名无效：可能是伪造的码",
    "signature_missing": "该码带签名发行：请扫描完整标签（含签名）",
    "key_revoked": "签名密钥已吊销",
    "unknown_key": "未知的签名密钥",
    "never_issued": "本品牌从未发行过该码",
    "voided": "该码已作废，不能使用",
    "not_commissioned": "该码尚未激活",
    "malformed": "无法识别的码",
    "duplicate": "本次重复扫描；只计一次",
    "party_not_authorized": "本店不能执行此操作",
    "not_holder": "该商品不在本店库存中（由其他方持有）",
}


def word(reason: str, lang: str = "en", **params: Any) -> str:
    """The message of ``reason`` in ``lang`` (zh-CN or en; anything else is English)."""
    return wording(_MESSAGES, reason, lang, **params)


def reject_message(reason: str, message: str, lang: str) -> str:
    """A scanner's refusal in the till's language: our Chinese words for a known reason, else the scanner's own."""
    if lang == "zh-CN" and reason in _REJECTIONS_ZH and not any("\u4e00" <= ch <= "\u9fff" for ch in message):
        return _REJECTIONS_ZH[reason]
    return message


class _Worded(TraceabilityError):
    """An error made with :meth:`keyed` whose body carries its key as ``reason`` and its fields beside it, so that a
    program reads the rule (and the order, the store, …) without parsing the words."""

    @classmethod
    def keyed(cls, catalogue: Catalogue, key: str, /, *, detail: Mapping[str, Any] | None = None,
              **params: Any) -> Self:  # fmt: skip
        return super().keyed(catalogue, key, detail={"reason": key, **params, **(detail or {})}, **params)


class SaleNotFound(_Worded, NotFound):
    code = "sale_not_found"


class UndoTooLate(_Worded, Conflict):
    code = "undo_too_late"


class FreeUnitGiven(_Worded, Conflict):
    code = "free_unit_given"


class NoFreeUnit(_Worded, Conflict):
    code = "no_free_unit"


class TillInvalid(_Worded, InvalidInput):
    code = "till_invalid"


class PrinterInvalid(_Worded, InvalidInput):
    code = "printer_invalid"


class NotYourStore(_Worded, Forbidden):
    code = "not_your_store"


class PrinterUnreachable(_Worded, TraceabilityError):
    status_code = 502
    code = "printer_unreachable"
