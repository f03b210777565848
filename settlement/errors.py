"""Errors of settlement, rendered by the one handler like every :class:`TraceabilityError`.

The policy's own error (``PolicyInvalid``) and the members' (``NoFreeItem``) are in :mod:`rebates.errors`.

TraceabilityError
├── NotFound (404)
│   └── NoCheckpoint         the period is open, or was locked before locks wrote chain checkpoints
├── InvalidInput (422)
│   ├── BadPeriod            a period that is not ``YYYY-MM``
│   └── PartyRequired        finance asked for the units behind a line without naming the party
├── Forbidden (403)
│   └── NotYourParty         a partner asked for another party's figures, or a role with no figures of its own
└── Conflict (409)
    ├── PeriodLocked         the period is locked: it can be read, never run again or changed
    ├── LockOutOfOrder       periods lock in order; an earlier open period must be locked first
    ├── PeriodNotEnded       the period has not ended (plus the policy's grace days); says when it can be locked
    └── EmptyPeriod          no fact dated in the period and no adjustment to book; locking it needs ``force``

The partners' errors are worded in the request's language (zh-CN or en, :func:`worded`): distributors and stores
read them on their own pages; finance's errors stay in English like the rest of its command line.
"""

from __future__ import annotations

from typing import Any

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound
from traceability.i18n import DEFAULT_LANG, Catalogue, messages

__all__ = [
    "BadPeriod",
    "EmptyPeriod",
    "LockOutOfOrder",
    "NoCheckpoint",
    "NotYourParty",
    "PartyRequired",
    "PeriodLocked",
    "PeriodNotEnded",
    "worded",
]


class BadPeriod(InvalidInput):
    code = "bad_period"


class PartyRequired(InvalidInput):
    code = "party_required"


class NotYourParty(Forbidden):
    code = "not_your_party"


class NoCheckpoint(NotFound):
    code = "no_checkpoint"


class PeriodLocked(Conflict):
    code = "period_locked"


class LockOutOfOrder(Conflict):
    code = "lock_out_of_order"


class PeriodNotEnded(Conflict):
    code = "period_not_ended"


class EmptyPeriod(Conflict):
    code = "period_empty"


_MESSAGES: Catalogue = messages("settlement.errors")


def worded(key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    """A partner-facing message in ``lang`` (zh-CN or en; anything else gets the default, Chinese)."""
    table = _MESSAGES.get(lang, _MESSAGES[DEFAULT_LANG])
    return table[key].format(**params)
