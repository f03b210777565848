"""Settlement facts from captured events: sales, purchases from the brand, and dispatches by distributors.

:data:`facts_listener`, wired into the ledger by the assembly, turns each stored event into rows of ``sale``,
``purchase`` and ``dispatch`` inside the capture's transaction. The rows are a pure function of the stored events:

- an event's rows are re-derived whole (deleted and inserted again) whenever it, an aggregation of a container it
  names, or its ``errorDeclaration`` arrives, so arrival order does not matter and a retraction removes its rows;
- a case or pallet stands for the units inside it at the event's time (the ledger's one containment rule,
  :mod:`ledger.history`, which unit state and the diversion rules read too);
- ``counted`` and ``scanned_out`` are recomputed for every unit the change touches;
- facts dated inside a locked settlement period mark that period for restatement.

:func:`rebuild` derives every row again from the event store, which proves they are derived, not primary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, col, select

from ledger.bulk import insert_rows
from ledger.history import (
    StoredEvent,
    appended,
    chunks,
    contents_of,
    covering_view,
    known_code_facts,
    load_view,
    named_in,
    query,
    retracted_ids,
    rows,
    sightings_of,
)
from ledger.keys import gtin_of, is_sgtin_key, is_sscc_key
from ledger.parties import PartyRoles
from ledger.store import Listener
from traceability.models import (
    Dispatch,
    Event,
    EventEpc,
    Purchase,
    Sale,
    SettlementPeriod,
)
from traceability.privacy import MEMBER_KEYS

__all__ = ["FactCounts", "derive_facts", "facts_drift", "facts_listener", "rebuild", "record_facts"]



def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass
class FactCounts:
    sales: int = 0
    purchases: int = 0
    dispatches: int = 0
    restated_periods: list[str] = field(default_factory=list)


# --- units an event stands for ------------------------------------------------------------------------------------


_NAMED = query(EventEpc.event_pk, EventEpc.key).where(
    col(EventEpc.event_pk).in_(bindparam("pks", expanding=True)), col(EventEpc.role) == "epc"
).order_by(col(EventEpc.id))


def _event_units(session: Session, events: Sequence[StoredEvent]) -> dict[int, list[str]]:
    """The unit keys each event stands for: the units it names, and the units inside the containers it names then.

    Whether a unit was inside at the event's time is the ledger's containment (:func:`ledger.history.sightings_of`):
    the event reaches the unit through a container. Loaded for all events at once, not per event or per container.
    """
    # The append's own identifier rows and view where they serve (ledger.history.batch), not read back.
    named = {
        pk: [key for key, _ in found]
        for pk, found in named_in(session, [e.id for e in events if e.id is not None], _NAMED, "epc").items()
    }
    keys = {k for found in named.values() for k in found}
    facts = known_code_facts(session, keys)

    def container(key: str) -> bool:
        return is_sscc_key(key) or (key in facts and facts[key].level != "unit")

    contents = contents_of(session, {k for k in keys if container(k)})
    inside = {u for found in contents.values() for u in found if is_sgtin_key(u)}
    view = covering_view(session, inside) or load_view(session, inside)
    facts.update((u, view.codes[u]) for u in inside if u in view.codes)
    reached: dict[str, set[int]] = {
        u: {s.event.pk for s in sightings_of(view, u) if s.via is not None} for u in inside if not container(u)
    }
    out: dict[int, list[str]] = {}
    for pk, found in named.items():
        units: dict[str, None] = {}
        for key in found:
            if not container(key):
                if is_sgtin_key(key):
                    units.setdefault(key, None)
                continue
            for unit in sorted(contents.get(key, ())):
                if pk in reached.get(unit, ()):
                    units.setdefault(unit, None)
        out[pk] = list(units)
    return out


def _member(event: StoredEvent) -> str | None:
    try:
        doc = json.loads(event.document)
    except json.JSONDecodeError:
        return None
    for name in MEMBER_KEYS:
        value = doc.get(name)
        if isinstance(value, str) and value:
            return value[:64]
    return None


# --- the listener -------------------------------------------------------------------------------------------------


def _relevant(event: StoredEvent) -> bool:
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


def derive_facts(session: Session, events: Sequence[StoredEvent], roles: PartyRoles | None = None) -> FactCounts:
    """Re-derive the facts of ``events`` (and of events whose containers they pack or unpack); see the module."""
    if not any(_relevant(e) for e in events):
        return FactCounts()
    roles = roles or PartyRoles.load(session)
    targets: dict[str, StoredEvent] = {}
    retracted: set[str] = set()
    containers: set[str] = set()
    aggregations: set[int] = set()  # row ids of aggregations whose parents' contents change
    declared: list[str] = []
    for e in events:
        if e.declaration:
            retracted.add(e.event_id)
            declared.append(e.event_id)
            continue
        if e.event_type == "AggregationEvent" and e.id is not None:
            aggregations.add(e.id)
        elif e.biz_step in ("retail_selling", "shipping"):
            targets[e.event_id] = e
    for names in chunks(sorted(set(declared))):  # the aggregations the declarations retract
        aggregations.update(rows(session, _ORIGINAL_AGGREGATIONS, {"ids": names}).scalars())
    for some in chunks(sorted(aggregations)):
        containers.update(rows(session, _PARENTS, {"pks": some}).scalars())
    for e in _events_naming(session, containers):
        targets.setdefault(e.event_id, e)
    retracted |= retracted_ids(session, targets)  # in chunks: a document may hold more events than a statement binds

    counts = FactCounts()
    touched_units: set[str] = set()
    touched_pairs: set[tuple[str, str]] = set()
    times: list[datetime] = []
    # The append's own events (ledger.history.appended) have no facts yet: only older events' are looked up and
    # deleted. An eventID names one stored event (uq_event_id_declaration), so a new one's is that new event's.
    fresh = appended(session)
    new = {i for i, e in targets.items() if e.id in fresh}
    ids = sorted((retracted | set(targets)) - new)
    for start in range(0, len(ids), 400):
        chunk = ids[start : start + 400]
        # By the stored events' row ids (the facts' indexed column), not their eventIDs: a look-up by eventID
        # would read every fact row, and the tables grow with every sale.
        pks = list(session.exec(select(Event.id).where(col(Event.event_id).in_(chunk),
                                                      col(Event.declaration).is_(False))))  # fmt: skip
        if not pks:
            continue
        for s in session.exec(select(Sale).where(col(Sale.event_pk).in_(pks))):
            times.append(s.event_time)
            touched_units.add(s.unit_key)
        for p in session.exec(select(Purchase).where(col(Purchase.event_pk).in_(pks))):
            times.append(p.event_time)
            touched_pairs.add((p.unit_key, p.distributor_id))
        for d in session.exec(select(Dispatch).where(col(Dispatch.event_pk).in_(pks))):
            touched_pairs.add((d.unit_key, d.distributor_id))
        session.execute(delete(Sale).where(col(Sale.event_pk).in_(pks)))
        session.execute(delete(Purchase).where(col(Purchase.event_pk).in_(pks)))
        session.execute(delete(Dispatch).where(col(Dispatch.event_pk).in_(pks)))

    sales: list[dict[str, object]] = []
    purchases: list[dict[str, object]] = []
    dispatches: list[dict[str, object]] = []
    live = [targets[i] for i in sorted(targets) if i not in retracted and targets[i].action in ("ADD", "OBSERVE")]
    units_of = _event_units(session, live)
    for e in live:
        base = {"event_pk": e.id, "event_id": e.event_id, "event_time": _aware(e.event_time)}
        if e.biz_step == "retail_selling":
            member = _member(e)
            units = units_of.get(e.id or -1, [])
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
            units = units_of.get(e.id or -1, [])
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
        insert_rows(session, Sale, sales)
    if purchases:
        insert_rows(session, Purchase, purchases)
    if dispatches:
        insert_rows(session, Dispatch, dispatches)
    counts.sales, counts.purchases, counts.dispatches = len(sales), len(purchases), len(dispatches)
    times.extend(_recount_sales(session, touched_units))
    times.extend(_recount_purchases(session, touched_pairs))
    counts.restated_periods = _mark_restatements(session, times)
    session.flush()
    return counts


_PARENTS = query(EventEpc.key).where(col(EventEpc.event_pk).in_(bindparam("pks", expanding=True)),
                                     col(EventEpc.role) == "parent")  # fmt: skip
_ORIGINAL_AGGREGATIONS = query(Event.id).where(
    col(Event.event_id).in_(bindparam("ids", expanding=True)),
    col(Event.declaration).is_(False),
    col(Event.event_type) == "AggregationEvent",
)


_KEYS: Any = bindparam("keys", expanding=True)
_SALES_OF = (
    query(Sale.id, Sale.unit_key, Sale.event_time, Sale.counted)
    .where(col(Sale.unit_key).in_(_KEYS))
    .order_by(col(Sale.unit_key), col(Sale.event_time), col(Sale.event_id), col(Sale.id))
)
_PURCHASES_OF = (
    query(Purchase.id, Purchase.unit_key, Purchase.distributor_id, Purchase.event_time, Purchase.counted,
          Purchase.scanned_out)
    .where(col(Purchase.unit_key).in_(_KEYS))
    .order_by(col(Purchase.unit_key), col(Purchase.distributor_id), col(Purchase.event_time),
              col(Purchase.event_id), col(Purchase.id))
)  # fmt: skip
_DISPATCHES_OF = query(Dispatch.unit_key, Dispatch.distributor_id, Dispatch.event_time).where(
    col(Dispatch.unit_key).in_(_KEYS)
)
_SET_SALE = update(Sale).where(col(Sale.id) == bindparam("row_id")).values(counted=bindparam("new_counted"))
_SET_PURCHASE = (
    update(Purchase)
    .where(col(Purchase.id) == bindparam("row_id"))
    .values(counted=bindparam("new_counted"), scanned_out=bindparam("new_scanned_out"))
)


def _expire(session: Session, table: type[Sale] | type[Purchase], ids: set[int]) -> None:
    """Expire ORM copies of rows just updated through Core, so the session does not serve stale flags."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, table) and obj.id in ids:
            session.expire(obj)


def _recount_sales(session: Session, units: set[str]) -> list[datetime]:
    """Count each unit's earliest sale (event time, then eventID) and no other; return times of rows that changed."""
    changed: list[datetime] = []
    updates: list[dict[str, object]] = []
    keys = sorted(units)
    session.flush()  # plain rows below, read past the ORM
    for start in range(0, len(keys), 400):
        found = rows(session, _SALES_OF, {"keys": keys[start : start + 400]})
        previous = None
        for row in found:
            first = row.unit_key != previous
            previous = row.unit_key
            if bool(row.counted) != first:
                updates.append({"row_id": row.id, "new_counted": first})
                changed.append(row.event_time)
    if updates:  # one executemany: an ORM update per row would walk the session's identity map each time
        session.connection().execute(_SET_SALE, updates)
        _expire(session, Sale, {row_id for u in updates if isinstance(row_id := u["row_id"], int)})
    return changed


def _recount_purchases(session: Session, pairs: set[tuple[str, str]]) -> list[datetime]:
    """Count each unit's first purchase by a distributor, and whether that distributor scanned it out afterwards."""
    changed: list[datetime] = []
    updates: list[dict[str, object]] = []
    units = sorted({u for u, _ in pairs})
    session.flush()  # plain rows below, read past the ORM
    for start in range(0, len(units), 400):
        chunk = units[start : start + 400]
        found = rows(session, _PURCHASES_OF, {"keys": chunk}).all()
        out: dict[tuple[str, str], list[datetime]] = {}
        for unit_key, distributor_id, event_time in rows(session, _DISPATCHES_OF, {"keys": chunk}):
            out.setdefault((unit_key, distributor_id), []).append(_aware(event_time))
        previous: tuple[str, str] | None = None
        for row in found:
            pair = (row.unit_key, row.distributor_id)
            first = pair != previous
            previous = pair
            shipped = any(t >= _aware(row.event_time) for t in out.get(pair, ()))
            if bool(row.counted) != first or bool(row.scanned_out) != shipped:
                updates.append({"row_id": row.id, "new_counted": first, "new_scanned_out": shipped})
                changed.append(row.event_time)
    if updates:
        session.connection().execute(_SET_PURCHASE, updates)
        _expire(session, Purchase, {row_id for u in updates if isinstance(row_id := u["row_id"], int)})
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


def record_facts(session: Session, events: Sequence[StoredEvent]) -> None:
    """The capture listener: settlement facts follow every stored event, in the capture's transaction."""
    derive_facts(session, events)


facts_listener = Listener("settlement_facts", events_stored=record_facts)
"""Sales, purchases and dispatches follow every capture."""


def _facts(session: Session) -> dict[str, set[tuple[object, ...]]]:
    """Every fact row without its row id, as a comparable set per table."""
    out: dict[str, set[tuple[object, ...]]] = {}
    for table in (Sale, Purchase, Dispatch):
        sa_table: Any = table.__table__  # type: ignore[union-attr]
        columns = [c for c in sa_table.columns if c.name != "id"]
        out[str(sa_table.name)] = {
            tuple(_aware(v) if isinstance(v, datetime) else v for v in row)
            for row in session.connection().execute(query(*columns))
        }
    return out


def facts_drift(*, session: Session) -> list[str]:
    """What differs between the stored sales, purchases and dispatches and a fresh derivation from the events.

    The derivation runs inside a savepoint that is rolled back: nothing is changed, whatever it finds.
    """
    session.flush()
    stored = _facts(session)
    savepoint = session.begin_nested()
    try:
        rebuild(session=session)
        derived = _facts(session)
    finally:
        savepoint.rollback()
    problems: list[str] = []
    for table, kept in stored.items():
        extra, missing = kept - derived[table], derived[table] - kept
        if extra or missing:
            problems.append(
                f"table {table}: {len(extra)} row(s) no event explains, {len(missing)} row(s) the events imply are "
                "missing or altered"
            )
    return problems


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
