"""Errors of settlement and rebates, rendered by the one handler like every :class:`TraceabilityError`.

TraceabilityError
├── InvalidInput (422)
│   ├── BadPeriod            a period that is not ``YYYY-MM``
│   └── ValidationFailed (422)
│       └── PolicyInvalid    a policy file that does not parse or breaks a rule (every problem with its path)
└── Conflict (409)
    ├── PeriodLocked         the period is locked: it can be read, never run again or changed
    ├── LockOutOfOrder       periods lock in order; an earlier open period must be locked first
    └── NoFreeItem           a member has no free unit to redeem
"""

from __future__ import annotations

from traceability.errors import Conflict, InvalidInput, ValidationFailed

__all__ = ["BadPeriod", "LockOutOfOrder", "NoFreeItem", "PeriodLocked", "PolicyInvalid"]


class BadPeriod(InvalidInput):
    code = "bad_period"


class PolicyInvalid(ValidationFailed):
    code = "policy_invalid"


class PeriodLocked(Conflict):
    code = "period_locked"


class LockOutOfOrder(Conflict):
    code = "lock_out_of_order"


class NoFreeItem(Conflict):
    code = "no_free_item"
