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

from collections.abc import Mapping
from typing import Any, Self

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound, TraceabilityError
from traceability.i18n import Catalogue, messages, wording

__all__ = [
    "DeliveryRefused",
    "NotYourOrder",
    "OrderConflict",
    "OrderInvalid",
    "OrderNotFound",
    "word",
]

_MESSAGES: Catalogue = messages("orders.errors")


def word(reason: str, lang: str = "en", **params: Any) -> str:
    """The message of ``reason`` in ``lang`` (zh-CN or en; anything else is English)."""
    return wording(_MESSAGES, reason, lang, **params)


class _Worded(TraceabilityError):
    """An error made with :meth:`keyed` whose body carries its key as ``reason`` and its fields beside it, so that a
    program reads the rule (and the order, the store, …) without parsing the words."""

    @classmethod
    def keyed(cls, catalogue: Catalogue, key: str, /, *, detail: Mapping[str, Any] | None = None,
              **params: Any) -> Self:  # fmt: skip
        return super().keyed(catalogue, key, detail={"reason": key, **params, **(detail or {})}, **params)


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

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Each refused code (``None`` for a count that does not match) with its ``reason`` and ``message``."""
        rejected: list[dict[str, Any]] = self.detail["rejected"]
        return rejected
