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

from typing import Any

from traceability.errors import CatalogueWorded, Conflict, Forbidden, InvalidInput, NotFound, TraceabilityError
from traceability.i18n import wording

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

_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "sale_not_found": "no sale {sale} was rung up at {store}",
        "undo_too_late": "a sale is undone on the day it was made ({day}); ask finance to correct an older one",
        "free_unit_given": "the member's free unit was given on this sale's account: undo the free unit first",
        "no_free_unit": "no free unit is due: {count} of {of} bought towards the next one",
        "member_required": "a free unit is given to a member: enter her phone first",
        "one_free_unit": "scan exactly one unit as the free unit (not a case)",
        "store_required": "name the store whose till this is (only a store's key implies it)",
        "not_a_store": "{party} is not a store",
        "not_your_store": "a store key rings up and sees only its own store {own}",
        "printer_host_required": "an ESC/POS printer needs its network address (host) to be sent receipts",
        "printer_host_invalid": "the printer's host is not a host name or an IP address",
        "printer_not_network": "this store's receipts are printed from the browser; choose an ESC/POS printer first",
        "printer_unreachable": "the receipt printer at {host}:{port} did not answer ({why})",
    },
    "zh-CN": {
        "sale_not_found": "{store} 没有编号为 {sale} 的销售",
        "undo_too_late": "销售只能在当天（{day}）撤销；更早的销售请联系财务更正",
        "free_unit_given": "会员已凭这笔销售领取了赠品：请先撤销赠品",
        "no_free_unit": "暂无可领取的赠品：本轮已购 {count} / {of}",
        "member_required": "赠品只给会员：请先输入会员手机号",
        "one_free_unit": "请只扫描一件单品作为赠品（不能是整箱）",
        "store_required": "请指定门店（只有门店密钥可省略）",
        "not_a_store": "{party} 不是门店",
        "not_your_store": "门店密钥只能为本店 {own} 收银和查看",
        "printer_host_required": "ESC/POS 打印机需要填写网络地址（主机）才能发送小票",
        "printer_host_invalid": "打印机主机既不是主机名也不是 IP 地址",
        "printer_not_network": "本店小票由浏览器打印；请先选择 ESC/POS 打印机",
        "printer_unreachable": "小票打印机 {host}:{port} 没有响应（{why}）",
    },
}

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


class _Worded(CatalogueWorded):
    catalogue = _MESSAGES


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
