"""Errors of the O2O orders, rendered by the one handler like every :class:`TraceabilityError`, and their words in
the two languages (zh-CN, en) the request asks for; ``reason`` in the body is the machine code.

TraceabilityError
├── NotFound (404)
│   └── OrderNotFound       no such order, or none the caller may see (a store sees only orders offered to it)
├── Conflict (409)
│   └── OrderConflict       a step the order's state forbids: ``reason`` says which (not_offered, offer_lapsed,
│                           not_accepted, already_accepted, finished, …)
├── InvalidInput (422)
│   ├── OrderInvalid        an order or a request that breaks a rule (``reason``: no_lines, unknown_gtin, …)
│   └── DeliveryRefused     scanned units that cannot be this order's delivery; ``rejected`` lists each with its
│                           ``code``, ``reason`` (not_holder, already_sold, wrong_product, …) and ``message``
└── Forbidden (403)
    └── NotYourOrder        a store key acting for another store
"""

from __future__ import annotations

from typing import Any

from traceability.errors import CatalogueWorded, Conflict, Forbidden, InvalidInput, NotFound
from traceability.i18n import wording

__all__ = [
    "DeliveryRefused",
    "NotYourOrder",
    "OrderConflict",
    "OrderInvalid",
    "OrderNotFound",
    "word",
]

_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "order_not_found": "there is no order {order}, or none offered to you",
        "not_your_order": "a store key acts only for its own store {own}",
        "store_required": "name the store that acts (only a store's key implies it)",
        "not_offered": "order {order} is not offered to {store} now",
        "offer_lapsed": "the offer of order {order} to {store} lapsed at {deadline}; it goes to another store",
        "not_accepted": "order {order} has not been accepted by {store}; accept it before delivering",
        "already_accepted": "order {order} is already accepted by {store}",
        "finished": "order {order} is {status} already",
        "no_lines": "an order names at least one product and quantity",
        "too_many_lines": "an order names at most {max} products",
        "bad_gtin": "{gtin} is not a 14-digit GTIN with a valid check digit",
        "unknown_gtin": "{gtin} is no product of the master data",
        "duplicate_gtin": "{gtin} is named twice; give its total quantity once",
        "bad_quantity": "the quantity of {gtin} must lie between 1 and 1000",
        "bad_position": "the delivery position must be a latitude in [-90, 90] and a longitude in [-180, 180]",
        "bad_channel": "the channel is call_centre, web or app",
        "not_a_member_store": "{store} is not a member store",
        "no_codes": "scan the delivered units",
        "too_many_codes": "at most {max} units are delivered at once",
        "delivery_refused": "{count} of the scanned units cannot be this order's delivery; nothing was recorded",
        "quantity_mismatch": "the order asks {ordered} × {gtin}; {scanned} scanned",
        # per scanned unit
        "malformed": "not a code we can read",
        "duplicate": "scanned twice",
        "not_a_unit": "a case: open it at the till and scan its units",
        "never_issued": "this code was never issued by the brand",
        "signature_missing": "this code was issued with a signature; scan the whole label",
        "bad_signature": "the signature is not valid: possibly a forged code",
        "voided": "this code was voided",
        "already_sold": "this unit was already sold",
        "not_commissioned": "this code was never commissioned",
        "not_holder": "this unit is not in {store}'s stock",
        "wrong_product": "the order does not name this product",
        # routing reasons, as the history says them
        "home_store": "the member's home store",
        "last_store": "the store where the member last bought",
        "nearest": "the nearest member store ({km} km)",
        "nearest_with_stock": "the nearest member store holding the products ({km} km)",
        "reassigned": "given to this store by the call centre",
        "no_store": "no member store left to offer it to",
        "lapsed": "not accepted within {minutes} minutes; taken back",
        "declined": "declined by the store",
        "withdrawn": "taken back by the call centre",
        "cancelled": "cancelled by the call centre",
        "notice_taken_back": "order {order} was not accepted in time and has been given to another store",
        "notice_withdrawn": "order {order} has been given to another store by the call centre",
        "notice_cancelled": "order {order} has been cancelled",
    },
    "zh-CN": {
        "order_not_found": "没有订单 {order}，或该订单未派给您",
        "not_your_order": "门店密钥只能为本店 {own} 操作",
        "store_required": "请指定操作的门店（只有门店密钥可省略）",
        "not_offered": "订单 {order} 目前没有派给 {store}",
        "offer_lapsed": "订单 {order} 派给 {store} 的时限已于 {deadline} 过期，订单将改派其他门店",
        "not_accepted": "{store} 尚未接受订单 {order}；请先接单再配送",
        "already_accepted": "订单 {order} 已由 {store} 接单",
        "finished": "订单 {order} 已是 {status} 状态",
        "no_lines": "订单至少需要一种商品及数量",
        "too_many_lines": "一张订单最多 {max} 种商品",
        "bad_gtin": "{gtin} 不是校验位正确的 14 位 GTIN",
        "unknown_gtin": "主数据中没有商品 {gtin}",
        "duplicate_gtin": "{gtin} 出现了两次；请合并为一个总数量",
        "bad_quantity": "{gtin} 的数量应在 1 到 1000 之间",
        "bad_position": "配送位置的纬度应在 [-90, 90]，经度应在 [-180, 180]",
        "bad_channel": "渠道只能是 call_centre、web 或 app",
        "not_a_member_store": "{store} 不是会员门店",
        "no_codes": "请扫描配送的商品",
        "too_many_codes": "一次最多配送 {max} 件",
        "delivery_refused": "扫描的商品中有 {count} 件不能作为本订单的配送；未记录任何销售",
        "quantity_mismatch": "订单需要 {ordered} 件 {gtin}，扫描了 {scanned} 件",
        "malformed": "无法识别的码",
        "duplicate": "重复扫描",
        "not_a_unit": "这是整箱：请在收银台拆箱后扫描单品",
        "never_issued": "本品牌从未发行过该码",
        "signature_missing": "该码带签名发行：请扫描完整标签",
        "bad_signature": "签名无效：可能是伪造的码",
        "voided": "该码已作废",
        "already_sold": "该商品已售出",
        "not_commissioned": "该码尚未激活",
        "not_holder": "该商品不在 {store} 的库存中",
        "wrong_product": "订单中没有这种商品",
        "home_store": "会员的所属门店",
        "last_store": "会员最近购买的门店",
        "nearest": "最近的会员门店（{km} 公里）",
        "nearest_with_stock": "有货的最近会员门店（{km} 公里）",
        "reassigned": "由呼叫中心改派给本店",
        "no_store": "没有可派单的会员门店",
        "lapsed": "{minutes} 分钟内未接单，已收回",
        "declined": "门店拒单",
        "withdrawn": "已由呼叫中心收回",
        "cancelled": "已由呼叫中心取消",
        "notice_taken_back": "订单 {order} 未在时限内接单，已改派其他门店",
        "notice_withdrawn": "订单 {order} 已由呼叫中心改派其他门店",
        "notice_cancelled": "订单 {order} 已取消",
    },
}


def word(reason: str, lang: str = "en", **params: Any) -> str:
    """The message of ``reason`` in ``lang`` (zh-CN or en; anything else is English)."""
    return wording(_MESSAGES, reason, lang, **params)


class _Worded(CatalogueWorded):
    catalogue = _MESSAGES


class OrderNotFound(_Worded, NotFound):
    code = "order_not_found"


class OrderConflict(_Worded, Conflict):
    code = "order_conflict"


class OrderInvalid(_Worded, InvalidInput):
    code = "order_invalid"


class NotYourOrder(_Worded, Forbidden):
    code = "not_your_order"


class DeliveryRefused(InvalidInput):
    """Scanned units that cannot be the order's delivery: every one with its reason; nothing recorded."""

    code = "delivery_refused"

    def __init__(self, rejected: list[dict[str, Any]], lang: str = "en", **params: Any) -> None:
        super().__init__(word("delivery_refused", lang, count=len(rejected)), rejected=rejected, **params)
        self.rejected = rejected
