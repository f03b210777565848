"""Settlement facts from captured events: sales, purchases from the brand, and dispatches by distributors.

A listener on :func:`traceability.hooks.on_events_stored` turns each stored event into rows of ``sale``,
``purchase`` and ``dispatch`` inside the capture's transaction. The rows are a pure function of the stored events:

- an event's rows are re-derived whole (deleted and inserted again) whenever it, an aggregation of a container it
  names, or its ``errorDeclaration`` arrives, so arrival order does not matter and a retraction removes its rows;
- a case or pallet stands for the units inside it at the event's time (the same rule unit state uses:
  :func:`scanning.state.events_for_unit`);
- ``counted`` and ``scanned_out`` are recomputed for every unit the change touches;
- facts dated inside a locked settlement period mark that period for restatement.

:func:`rebuild` derives every row again from the event store, which proves they are derived, not primary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, insert, or_, update
from sqlmodel import Session, col, select

from scanning.state import Histories, codes_for_keys, unit_key
from traceability.hooks import on_events_stored
from traceability.models import (
    AggregationLog,
    Code,
    Dispatch,
    Event,
    EventEpc,
    Party,
    Purchase,
    Sale,
    SettlementPeriod,
)
from traceability.privacy import MEMBER_FIELD, MEMBER_NAMESPACE

__all__ = ["FactCounts", "PartyRoles", "derive_facts", "gtin_of", "rebuild", "record_facts"]

_SGTIN = re.compile(r"^https://id\.gs1\.org/01/(\d{14})/21/([^/?#]+)$")
_SSCC = re.compile(r"^https://id\.gs1\.org/00/\d{18}$")
_MEMBER_KEYS = (MEMBER_FIELD, MEMBER_NAMESPACE + MEMBER_FIELD.split(":", 1)[1])


def gtin_of(key: str) -> str | None:
    """The GTIN of a unit's canonical key (``https://id.gs1.org/01/<gtin>/21/<serial>``)."""
    m = _SGTIN.match(key)
    return m[1] if m else None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass
class PartyRoles:
    """Which parties are brand-owned and which distributor a party is or belongs to (as ``flow_graph`` decides)."""

    kind: dict[str, str]
    owner: dict[str, str | None]

    @classmethod
    def load(cls, session: Session) -> PartyRoles:
        rows = session.exec(select(Party.id, Party.kind, Party.owner_id)).all()
        return cls(kind={p: str(k) for p, k, _ in rows}, owner={p: o for p, _, o in rows})

    def _walk(self, party: str | None, kinds: frozenset[str]) -> str | None:
        seen: set[str] = set()
        node = party
        while node is not None and node not in seen and node in self.kind:
            seen.add(node)
            if self.kind[node] in kinds:
                return node
            node = self.owner.get(node)
        return None

    def brand_owned(self, party: str | None) -> bool:
        """``brand`` or ``plant``, or owned (through any chain of owners) by one."""
        return self._walk(party, frozenset({"brand", "plant"})) is not None

    def distributor_of(self, party: str | None) -> str | None:
        """The distributor a party is, or belongs to (a distributor's own warehouse counts as the distributor)."""
        return self._walk(party, frozenset({"distributor"}))


@dataclass
class FactCounts:
    sales: int = 0
    purchases: int = 0
    dispatches: int = 0
    restated_periods: list[str] = field(default_factory=list)


# --- units an event stands for ------------------------------------------------------------------------------------


def _is_container(key: str, code: Code | None) -> bool:
    if _SSCC.match(key):
        return True
    return code is not None and str(code.level) != "unit"


def _packed_keys(session: Session, key: str, code: Code | None) -> set[str]:
    """Every key ever packed into a container: by aggregation event, packing record, or the aggregation log."""
    parent_events = select(EventEpc.event_pk).where(EventEpc.key == key, EventEpc.role == "parent")
    keys = set(
        session.exec(select(EventEpc.key).where(col(EventEpc.event_pk).in_(parent_events), EventEpc.role == "child"))
    )
    if code is not None and code.id is not None:
        logged = select(AggregationLog.child_id).where(AggregationLog.parent_id == code.id)
        rows = session.exec(select(Code).where(or_(col(Code.parent_id) == code.id, col(Code.id).in_(logged))))
        keys.update(unit_key(r) for r in rows)
    return keys


def _units_of(session: Session, key: str, event: Event, depth: int = 0) -> list[str]:
    """The unit keys one identifier of ``event`` stands for: itself, or the units inside the container then."""
    code = codes_for_keys(session, [key]).get(key)
    if not _is_container(key, code):
        return [key] if _SGTIN.match(key) else []
    if depth > 3:
        return []
    children = sorted(_packed_keys(session, key, code))
    child_codes = codes_for_keys(session, children)
    # Whether each unit was inside at the event's time comes from its history, loaded for all children at once.
    units = [c for c in children if not _is_container(c, child_codes.get(c)) and _SGTIN.match(c)]
    histories = Histories(session).events_for(units) if units else {}
    out: list[str] = []
    for child in children:
        if _is_container(child, child_codes.get(child)):
            out.extend(_units_of(session, child, event, depth + 1))
        elif any(e.id == event.id for e in histories.get(child, ())):
            out.append(child)
    return out


def _event_units(session: Session, event: Event) -> list[str]:
    keys = session.exec(
        select(EventEpc.key).where(EventEpc.event_pk == event.id, EventEpc.role == "epc").order_by(col(EventEpc.id))
    ).all()
    codes = codes_for_keys(session, keys)  # one look-up for the whole event, not one per unit
    units: dict[str, None] = {}
    for key in keys:
        if not _is_container(key, codes.get(key)):
            if _SGTIN.match(key):
                units.setdefault(key, None)
            continue
        for unit in _units_of(session, key, event):
            units.setdefault(unit, None)
    return list(units)


def _member(event: Event) -> str | None:
    try:
        doc = json.loads(event.document)
    except json.JSONDecodeError:
        return None
    for name in _MEMBER_KEYS:
        value = doc.get(name)
        if isinstance(value, str) and value:
            return value[:64]
    return None


# --- the listener -------------------------------------------------------------------------------------------------


def _relevant(event: Event) -> bool:
    return event.biz_step in ("retail_selling", "shipping") or event.event_type == "AggregationEvent"


def _events_naming(session: Session, keys: Iterable[str]) -> list[Event]:
    """Selling and shipping events that name any of ``keys`` (containers whose content just changed)."""
    wanted = sorted(set(keys))
    found: dict[int, Event] = {}
    for start in range(0, len(wanted), 400):
        pks = select(EventEpc.event_pk).where(col(EventEpc.key).in_(wanted[start : start + 400]))
        stmt = select(Event).where(
            col(Event.id).in_(pks),
            col(Event.declaration).is_(False),
            col(Event.biz_step).in_(["retail_selling", "shipping"]),
        )
        for e in session.exec(stmt):
            if e.id is not None:
                found[e.id] = e
    return list(found.values())


def derive_facts(session: Session, events: Sequence[Event], roles: PartyRoles | None = None) -> FactCounts:
    """Re-derive the facts of ``events`` (and of events whose containers they pack or unpack); see the module."""
    if not any(_relevant(e) for e in events):
        return FactCounts()
    roles = roles or PartyRoles.load(session)
    targets: dict[str, Event] = {}
    retracted: set[str] = set()
    containers: set[str] = set()
    for e in events:
        if e.declaration:
            retracted.add(e.event_id)
            original = session.exec(
                select(Event).where(Event.event_id == e.event_id, col(Event.declaration).is_(False))
            ).first()
            if original is not None and original.event_type == "AggregationEvent":
                containers.update(_parents(session, original))
            continue
        if e.event_type == "AggregationEvent":
            containers.update(_parents(session, e))
        elif e.biz_step in ("retail_selling", "shipping"):
            targets[e.event_id] = e
    for e in _events_naming(session, containers):
        targets.setdefault(e.event_id, e)
    declared = set(
        session.exec(
            select(Event.event_id).where(col(Event.declaration).is_(True), col(Event.event_id).in_(list(targets)))
        )
    ) if targets else set()  # fmt: skip
    retracted |= declared

    counts = FactCounts()
    touched_units: set[str] = set()
    touched_pairs: set[tuple[str, str]] = set()
    times: list[datetime] = []
    ids = sorted(retracted | set(targets))
    for start in range(0, len(ids), 400):
        chunk = ids[start : start + 400]
        for s in session.exec(select(Sale).where(col(Sale.event_id).in_(chunk))):
            times.append(s.event_time)
            touched_units.add(s.unit_key)
        for p in session.exec(select(Purchase).where(col(Purchase.event_id).in_(chunk))):
            times.append(p.event_time)
            touched_pairs.add((p.unit_key, p.distributor_id))
        for d in session.exec(select(Dispatch).where(col(Dispatch.event_id).in_(chunk))):
            touched_pairs.add((d.unit_key, d.distributor_id))
        session.execute(delete(Sale).where(col(Sale.event_id).in_(chunk)))
        session.execute(delete(Purchase).where(col(Purchase.event_id).in_(chunk)))
        session.execute(delete(Dispatch).where(col(Dispatch.event_id).in_(chunk)))

    sales: list[dict[str, object]] = []
    purchases: list[dict[str, object]] = []
    dispatches: list[dict[str, object]] = []
    for event_id in sorted(targets):
        if event_id in retracted:
            continue
        e = targets[event_id]
        if e.action not in ("ADD", "OBSERVE"):
            continue
        base = {"event_pk": e.id, "event_id": e.event_id, "event_time": _aware(e.event_time)}
        if e.biz_step == "retail_selling":
            member = _member(e)
            units = _event_units(session, e)
            sales.extend(
                {**base, "unit_key": u, "gtin": gtin_of(u), "store_id": e.location_party_id, "member_hash": member,
                 "counted": False}
                for u in units
            )  # fmt: skip
            touched_units.update(units)
        else:
            source = e.source_party_id or e.location_party_id
            to = roles.distributor_of(e.destination_party_id)
            sender = roles.distributor_of(source)
            buying = roles.brand_owned(source) and to is not None
            dispatching = sender is not None and to != sender
            if not (buying or dispatching):
                continue
            units = _event_units(session, e)
            if buying and to is not None:
                purchases.extend(
                    {**base, "unit_key": u, "gtin": gtin_of(u), "distributor_id": to, "source_id": source,
                     "counted": False, "scanned_out": False}
                    for u in units
                )  # fmt: skip
                touched_pairs.update((u, to) for u in units)
            if dispatching and sender is not None:
                dispatches.extend({**base, "unit_key": u, "distributor_id": sender} for u in units)
                touched_pairs.update((u, sender) for u in units)
        times.append(_aware(e.event_time))
    if sales:
        session.execute(insert(Sale), sales)
    if purchases:
        session.execute(insert(Purchase), purchases)
    if dispatches:
        session.execute(insert(Dispatch), dispatches)
    counts.sales, counts.purchases, counts.dispatches = len(sales), len(purchases), len(dispatches)
    times.extend(_recount_sales(session, touched_units))
    times.extend(_recount_purchases(session, touched_pairs))
    counts.restated_periods = _mark_restatements(session, times)
    session.flush()
    return counts


def _parents(session: Session, event: Event) -> list[str]:
    return list(session.exec(select(EventEpc.key).where(EventEpc.event_pk == event.id, EventEpc.role == "parent")))


def _recount_sales(session: Session, units: set[str]) -> list[datetime]:
    """Count each unit's earliest sale (event time, then eventID) and no other; return times of rows that changed."""
    changed: list[datetime] = []
    keys = sorted(units)
    for start in range(0, len(keys), 400):
        rows = session.exec(
            select(Sale).where(col(Sale.unit_key).in_(keys[start : start + 400]))
            .order_by(col(Sale.unit_key), col(Sale.event_time), col(Sale.event_id), col(Sale.id))
        ).all()  # fmt: skip
        previous = None
        for row in rows:
            first = row.unit_key != previous
            previous = row.unit_key
            if bool(row.counted) != first:
                session.execute(update(Sale).where(col(Sale.id) == row.id).values(counted=first))
                changed.append(row.event_time)
    return changed


def _recount_purchases(session: Session, pairs: set[tuple[str, str]]) -> list[datetime]:
    """Count each unit's first purchase by a distributor, and whether that distributor scanned it out afterwards."""
    changed: list[datetime] = []
    units = sorted({u for u, _ in pairs})
    for start in range(0, len(units), 400):
        chunk = units[start : start + 400]
        rows = session.exec(
            select(Purchase).where(col(Purchase.unit_key).in_(chunk))
            .order_by(col(Purchase.unit_key), col(Purchase.distributor_id), col(Purchase.event_time),
                      col(Purchase.event_id), col(Purchase.id))
        ).all()  # fmt: skip
        out: dict[tuple[str, str], list[datetime]] = {}
        for d in session.exec(select(Dispatch).where(col(Dispatch.unit_key).in_(chunk))):
            out.setdefault((d.unit_key, d.distributor_id), []).append(_aware(d.event_time))
        previous: tuple[str, str] | None = None
        for row in rows:
            pair = (row.unit_key, row.distributor_id)
            first = pair != previous
            previous = pair
            shipped = any(t >= _aware(row.event_time) for t in out.get(pair, ()))
            if bool(row.counted) != first or bool(row.scanned_out) != shipped:
                session.execute(
                    update(Purchase).where(col(Purchase.id) == row.id).values(counted=first, scanned_out=shipped)
                )
                changed.append(row.event_time)
    return changed


def _mark_restatements(session: Session, times: list[datetime]) -> list[str]:
    """Flag the locked periods whose facts just changed, so the next open period restates them."""
    if not times:
        return []
    locked = session.exec(select(SettlementPeriod.period, SettlementPeriod.starts_at, SettlementPeriod.ends_at)).all()
    hit = sorted({p for p, s, e in locked if any(_aware(s) <= _aware(t) < _aware(e) for t in times)})
    if hit:
        session.execute(update(SettlementPeriod).where(col(SettlementPeriod.period).in_(hit)).values(restate=True))
    return hit


@on_events_stored
def record_facts(session: Session, events: Sequence[Event]) -> None:
    """The capture listener: settlement facts follow every stored event, in the capture's transaction."""
    derive_facts(session, events)


def rebuild(*, session: Session, batch: int = 2000) -> FactCounts:
    """Derive every sale, purchase and dispatch again from the event store (after a bug fix, or to prove them)."""
    for table in (Sale, Purchase, Dispatch):
        session.execute(delete(table))
    roles = PartyRoles.load(session)
    total = FactCounts()
    last = 0
    while True:
        rows = session.exec(
            select(Event).where(col(Event.id) > last, col(Event.biz_step).in_(["retail_selling", "shipping"]),
                                col(Event.declaration).is_(False))
            .order_by(col(Event.id)).limit(batch)
        ).all()  # fmt: skip
        if not rows:
            break
        last = rows[-1].id or last
        got = derive_facts(session, rows, roles)
        total.sales += got.sales
        total.purchases += got.purchases
        total.dispatches += got.dispatches
    session.flush()
    return total
