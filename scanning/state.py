"""Unit state derived from the stored events, so that arrival order never matters.

A unit's state is a fold over every non-retracted event that concerns it, in event-time order (ties broken by
eventID): events naming the unit itself, and events naming a case or pallet while the unit was inside it. The fold
is recomputed for every unit a capture touches, so a late or out-of-order event lands where it belongs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_
from sqlmodel import Session, col, select

from traceability.models import Code, CodeStatus, Event, EventEpc

__all__ = ["UnitView", "codes_for_keys", "derive", "events_for_unit", "rederive_for_events", "unit_key"]

_KEY = re.compile(r"https://id\.gs1\.org/(?:01/(\d{14})/21/([^/?#]+)|00/(\d{18}))$")

# bizStep → the status a unit has after it; steps not listed observe without changing state.
_STEP_STATUS = {
    "commissioning": CodeStatus.commissioned,
    "packing": CodeStatus.commissioned,
    "shipping": CodeStatus.shipped,
    "departing": CodeStatus.shipped,
    "receiving": CodeStatus.received,
    "arriving": CodeStatus.received,
    "accepting": CodeStatus.received,
    "retail_selling": CodeStatus.sold,
    "decommissioning": CodeStatus.voided,
    "destroying": CodeStatus.voided,
}
_TERMINAL = frozenset({CodeStatus.sold, CodeStatus.voided})


def unit_key(code: Code) -> str:
    """The canonical matching key of a code record (the form ``EventEpc.key`` uses)."""
    from urllib.parse import quote

    if code.sscc:
        return f"https://id.gs1.org/00/{code.sscc}"
    return f"https://id.gs1.org/01/{code.gtin}/21/{quote(code.serial or '', safe='')}"


def codes_for_keys(session: Session, keys: Iterable[str]) -> dict[str, Code]:
    """Code records behind canonical keys; keys of codes we never issued are absent."""
    from urllib.parse import unquote

    sgtins: dict[tuple[str, str], str] = {}
    ssccs: dict[str, str] = {}
    for key in keys:
        m = _KEY.match(key)
        if m is None:
            continue
        if m[3]:
            ssccs[m[3]] = key
        else:
            sgtins[(m[1], unquote(m[2]))] = key
    found: dict[str, Code] = {}
    pairs = list(sgtins)
    for start in range(0, len(pairs), 400):
        chunk = pairs[start : start + 400]
        serials = [s for _, s in chunk]
        rows = session.exec(select(Code).where(col(Code.serial).in_(serials))).all()
        for row in rows:
            k = sgtins.get((row.gtin or "", row.serial or ""))
            if k is not None:
                found[k] = row
    sscc_list = list(ssccs)
    for start in range(0, len(sscc_list), 400):
        for row in session.exec(select(Code).where(col(Code.sscc).in_(sscc_list[start : start + 400]))).all():
            found[ssccs[row.sscc or ""]] = row
    return found


@dataclass(frozen=True, slots=True)
class UnitView:
    status: CodeStatus | None
    holder_id: str | None
    events: tuple[Event, ...]


def _retracted(session: Session, event_ids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for start in range(0, len(event_ids), 500):
        stmt = select(Event.event_id).where(
            col(Event.declaration).is_(True), col(Event.event_id).in_(event_ids[start : start + 500])
        )
        out.update(session.exec(stmt).all())
    return out


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _direct_events(session: Session, key: str) -> list[tuple[Event, str]]:
    stmt = (
        select(Event, EventEpc.role)
        .join(EventEpc, and_(col(EventEpc.event_pk) == col(Event.id)))
        .where(EventEpc.key == key, col(Event.declaration).is_(False))
    )
    return [(e, r) for e, r in session.exec(stmt).all()]


Interval = tuple[str, datetime | None, datetime | None]


def _containers(session: Session, key: str, code: Code | None, depth: int = 0) -> list[Interval]:
    """(container key, from, until) intervals; from aggregation events, else the packing record on the code."""
    if depth > 3:
        return []
    intervals: list[Interval] = []
    rows = [(e, r) for e, r in _direct_events(session, key) if e.event_type == "AggregationEvent" and r == "child"]
    rows.sort(key=lambda x: (_aware(x[0].event_time), x[0].event_id))
    open_: dict[str, datetime] = {}
    retracted = _retracted(session, [e.event_id for e, _ in rows])
    for event, _ in rows:
        if event.event_id in retracted:
            continue
        parent = _parent_key(session, event)
        if parent is None:
            continue
        t = _aware(event.event_time)
        if event.action in ("ADD", "OBSERVE"):
            open_.setdefault(parent, t)
        elif event.action == "DELETE" and parent in open_:
            intervals.append((parent, open_.pop(parent), t))
    intervals.extend((p, t, None) for p, t in open_.items())
    if not rows and code is not None and code.parent_id is not None:
        parent_row = session.get(Code, code.parent_id)
        if parent_row is not None:
            intervals.append((unit_key(parent_row), None, None))
    nested: list[Interval] = []
    for parent, start, end in intervals:
        parent_code = codes_for_keys(session, [parent]).get(parent)
        for grand, g_start, g_end in _containers(session, parent, parent_code, depth + 1):
            lo = max((x for x in (start, g_start) if x is not None), default=None)
            hi = min((x for x in (end, g_end) if x is not None), default=None)
            nested.append((grand, lo, hi))
    return intervals + nested


def _parent_key(session: Session, event: Event) -> str | None:
    stmt = select(EventEpc.key).where(EventEpc.event_pk == event.id, EventEpc.role == "parent")
    return session.exec(stmt).first()


def events_for_unit(session: Session, key: str, code: Code | None = None) -> list[Event]:
    """Every non-retracted event that concerns a unit, directly or through a container, in event-time order."""
    events: dict[int, Event] = {}
    for event, role in _direct_events(session, key):
        if role in ("epc", "child", "parent", "output", "input") and event.id is not None:
            events[event.id] = event
    for container, start, end in _containers(session, key, code):
        for event, role in _direct_events(session, container):
            if event.event_type == "AggregationEvent" and role == "parent":
                continue  # packing and unpacking of the container itself is not an observation of its contents
            t = _aware(event.event_time)
            if (start is None or t >= start) and (end is None or t < end) and event.id is not None:
                events[event.id] = event
    retracted = _retracted(session, [e.event_id for e in events.values()])
    kept = [e for e in events.values() if e.event_id not in retracted]
    kept.sort(key=lambda e: (_aware(e.event_time), e.event_id))
    return kept


def derive(session: Session, key: str, code: Code | None = None) -> UnitView:
    """Fold a unit's events into its status and holder."""
    events = events_for_unit(session, key, code)
    status: CodeStatus | None = None
    holder: str | None = None
    for event in events:
        if status in _TERMINAL:
            break
        step = event.biz_step or ""
        new = _STEP_STATUS.get(step)
        if event.event_type == "ObjectEvent" and event.action == "DELETE":
            new = CodeStatus.voided
        if new is not None:
            status = new
        if new is CodeStatus.shipped:
            holder = event.destination_party_id or holder
        elif new is not None or event.location_party_id:
            holder = event.location_party_id or event.destination_party_id or holder
    return UnitView(status=status, holder_id=holder, events=tuple(events))


def _children_keys(session: Session, parents: Sequence[str], codes: dict[str, Code]) -> set[str]:
    """Keys ever packed into any of ``parents``: by aggregation event, or by the packing record of the codes."""
    out: set[str] = set()
    for start in range(0, len(parents), 400):
        chunk = parents[start : start + 400]
        parent_events = select(EventEpc.event_pk).where(col(EventEpc.key).in_(chunk), EventEpc.role == "parent")
        stmt = select(EventEpc.key).where(col(EventEpc.event_pk).in_(parent_events), EventEpc.role == "child")
        out.update(session.exec(stmt).all())
    parent_ids = [codes[k].id for k in parents if k in codes and codes[k].level != "unit"]
    for start in range(0, len(parent_ids), 400):
        rows = session.exec(select(Code).where(col(Code.parent_id).in_(parent_ids[start : start + 400]))).all()
        out.update(unit_key(r) for r in rows)
    return out


def rederive_for_events(session: Session, events: Sequence[Event]) -> list[Code]:
    """Recompute the state of every issued unit or container the events concern (and of units inside containers)."""
    ids = [e.id for e in events if e.id is not None]
    keys: set[str] = set()
    for start in range(0, len(ids), 500):
        keys.update(
            session.exec(select(EventEpc.key).where(col(EventEpc.event_pk).in_(ids[start : start + 500]))).all()
        )
    codes = codes_for_keys(session, keys)
    # A container's events reach the units inside it, now or at any time (packing records and aggregation events).
    seen = set(keys)
    frontier = list(keys)
    while frontier:
        inner = _children_keys(session, frontier, codes)
        frontier = [k for k in inner if k not in seen]
        seen.update(frontier)
        codes.update(codes_for_keys(session, frontier))
    changed: list[Code] = []
    for key, code in codes.items():
        view = derive(session, key, code)
        if view.status is None:
            continue
        if code.status != view.status or code.holder_id != view.holder_id:
            code.status = view.status
            code.holder_id = view.holder_id
            session.add(code)
            changed.append(code)
    session.flush()
    return changed
