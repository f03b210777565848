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

Every one is raised keyed (``TraceabilityError.keyed``) and worded in the request's language when rendered (zh-CN
or en): the partners' from the ``settlement.errors`` context, finance's from ``settlement.service``'s words; the
command line prints the English.
"""

from __future__ import annotations

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound

__all__ = [
    "BadPeriod",
    "EmptyPeriod",
    "LockOutOfOrder",
    "NoCheckpoint",
    "NotYourParty",
    "PartyRequired",
    "PeriodLocked",
    "PeriodNotEnded",
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
