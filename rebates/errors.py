"""Errors of rebates (the policy and members' free units), rendered by the one handler like every
:class:`TraceabilityError`.

TraceabilityError
├── InvalidInput (422)
│   └── ValidationFailed (422)
│       └── PolicyInvalid    a policy file that does not parse or breaks a rule (every problem with its path)
└── Conflict (409)
    └── NoFreeItem           a member has no free unit to redeem
"""

from __future__ import annotations

from traceability.errors import Conflict, ValidationFailed

__all__ = ["NoFreeItem", "PolicyInvalid"]


class PolicyInvalid(ValidationFailed):
    code = "policy_invalid"


class NoFreeItem(Conflict):
    code = "no_free_item"
