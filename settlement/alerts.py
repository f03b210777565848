"""What settlement reads from the diversion alerts (``flow_graph``'s ``alert`` table), and nothing more.

- Attributed diverted units of a distributor in a period: distinct units of ``out_of_territory`` and
  ``unauthorized_channel`` alerts whose responsible distributor it is, whose first evidence (``first_seen``) falls in
  the period, and whose status is open, investigating or confirmed. Investigating is an open case, so it counts;
  dismissed and withdrawn alerts do not.
- A flagged sale (no store fee): a sale whose event is evidence of such an active alert of any kind, or any sale of
  a unit with an active ``clone_suspected`` alert (a unit sold twice cannot earn a fee for either sale).

Alerts are few next to sales, so they are read whole per period and matched to sales by unit key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from traceability.models import Alert, AlertKind, AlertStatus, Sale

__all__ = ["ACTIVE", "DIVERSION_KINDS", "Diversion", "diversion_by_distributor", "flagged_sales"]

ACTIVE = (AlertStatus.open, AlertStatus.investigating, AlertStatus.confirmed)
DIVERSION_KINDS = (AlertKind.out_of_territory, AlertKind.unauthorized_channel)


@dataclass
class Diversion:
    """A distributor's attributed diverted units in a period and the alerts behind them."""

    units: int = 0
    alert_ids: list[int] = field(default_factory=list)

    @property
    def has_alert(self) -> bool:
        return bool(self.alert_ids)


def diversion_by_distributor(
    *, session: Session, start: datetime, end: datetime, distributor: str | None = None
) -> dict[str, Diversion]:
    """Per distributor (or only ``distributor``), attributed diverted units and active alerts first seen in
    ``[start, end)``."""
    stmt = (
        select(Alert.responsible_distributor_id, Alert.unit_key, Alert.id)
        .where(
            col(Alert.kind).in_(DIVERSION_KINDS),
            col(Alert.status).in_(ACTIVE),
            col(Alert.responsible_distributor_id).is_not(None),
            col(Alert.first_seen) >= start,
            col(Alert.first_seen) < end,
        )
        .order_by(col(Alert.id))
    )
    if distributor is not None:
        stmt = stmt.where(col(Alert.responsible_distributor_id) == distributor)
    units: dict[str, set[str]] = {}
    out: dict[str, Diversion] = {}
    for party, unit, alert_id in session.exec(stmt):
        if party is None or alert_id is None:
            continue
        units.setdefault(party, set()).add(unit)
        out.setdefault(party, Diversion()).alert_ids.append(alert_id)
    for party, keys in units.items():
        out[party].units = len(keys)
    return out


@dataclass(frozen=True, slots=True)
class FlaggedSale:
    sale_id: int
    store_id: str | None
    gtin: str | None
    unit_key: str
    alert_ids: tuple[int, ...]


def flagged_sales(*, session: Session, start: datetime, end: datetime, store: str | None = None) -> list[FlaggedSale]:
    """Counted sales in ``[start, end)`` (of ``store`` only, if given) that an active alert flags (see the module),
    with those alerts."""
    rows = session.exec(
        select(Alert.id, Alert.kind, Alert.unit_key, Alert.event_ids)
        .where(col(Alert.status).in_(ACTIVE))
        .order_by(col(Alert.id))
    ).all()
    by_unit: dict[str, list[tuple[int, bool, frozenset[str]]]] = {}
    for alert_id, kind, unit, event_ids in rows:
        if alert_id is None:
            continue
        try:
            evidence = frozenset(str(x) for x in json.loads(event_ids or "[]"))
        except (json.JSONDecodeError, TypeError):
            evidence = frozenset()
        by_unit.setdefault(unit, []).append((alert_id, str(kind) == "clone_suspected", evidence))
    out: list[FlaggedSale] = []
    keys: Sequence[str] = sorted(by_unit)
    for i in range(0, len(keys), 400):
        chunk = select(Sale).where(col(Sale.unit_key).in_(keys[i : i + 400]), col(Sale.counted).is_(True),
                                   col(Sale.event_time) >= start, col(Sale.event_time) < end)  # fmt: skip
        if store is not None:
            chunk = chunk.where(col(Sale.store_id) == store)
        sales = session.exec(chunk).all()
        for s in sales:
            hits = tuple(a for a, clone, ev in by_unit[s.unit_key] if clone or s.event_id in ev)
            if hits and s.id is not None:
                out.append(FlaggedSale(s.id, s.store_id, s.gtin, s.unit_key, hits))
    out.sort(key=lambda f: f.sale_id)
    return out
