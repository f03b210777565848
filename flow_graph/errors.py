"""Errors of the flow-graph domain, rendered by the one handler like every :class:`TraceabilityError`.

```
TraceabilityError
├── NotFound (404)
│   ├── AlertNotFound        no such alert, or not one the caller may see
│   ├── PartyNotFound        no such party in the master data
│   └── UnitNotFound         no event names this code
├── InvalidInput (422)
│   └── InvalidFilter        a period, status or kind that does not parse
└── Conflict (409)
    └── InvalidTransition    a case-workflow step the alert's status does not allow
```
"""

from __future__ import annotations

from traceability.errors import Conflict, InvalidInput, NotFound

__all__ = ["AlertNotFound", "InvalidFilter", "InvalidTransition", "PartyNotFound", "UnitNotFound"]


class AlertNotFound(NotFound):
    code = "alert_not_found"


class PartyNotFound(NotFound):
    code = "party_not_found"


class UnitNotFound(NotFound):
    code = "unit_not_found"


class InvalidFilter(InvalidInput):
    code = "invalid_filter"


class InvalidTransition(Conflict):
    """Open → investigating → confirmed or dismissed (and back to investigating); ``withdrawn`` is the system's."""

    code = "invalid_transition"
