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

from scanning.parse import sgtin_dl, sscc_dl
from traceability.models import Code, CodeStatus, Event, EventEpc

__all__ = [
    "Histories",
    "UnitView",
    "codes_for_keys",
    "events_for_unit",
    "fold",
    "rederive_for_events",
    "unit_key",
]

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
    if code.sscc:
        return sscc_dl(code.sscc)
    return sgtin_dl(code.gtin or "", code.serial or "")


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
    by_gtin: dict[str, list[str]] = {}
    for gtin, serial in sgtins:
        by_gtin.setdefault(gtin, []).append(serial)
    for gtin, serials in by_gtin.items():
        # gtin = ? AND serial IN (…) uses the (gtin, serial) unique index; serial alone would scan the table.
        for start in range(0, len(serials), 400):
            stmt = select(Code).where(Code.gtin == gtin, col(Code.serial).in_(serials[start : start + 400]))
            for row in session.exec(stmt).all():
                found[sgtins[(gtin, row.serial or "")]] = row
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


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _order(e: Event) -> tuple[datetime, str]:
    return (_aware(e.event_time), e.event_id)


Interval = tuple[str, datetime | None, datetime | None]
_CHUNK = 400
_MAX_DEPTH = 3


class Histories:
    """A slice of the event store loaded a few statements at a time, not a few statements per unit.

    ``load(keys)`` fetches every stored event naming the keys, the parents of their aggregation events, and the
    retractions among them; ``events_for(key)`` then assembles a unit's history (its own events and its containers'
    events while it was inside them), loading the containers it discovers in further bulk rounds.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.direct: dict[str, list[tuple[Event, str]]] = {}
        self.agg_parent: dict[int, str] = {}
        self.retracted: set[str] = set()
        self.codes: dict[str, Code] = {}

    def load(self, keys: Iterable[str]) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self.direct]
        if not missing:
            return
        new_events: dict[int, Event] = {}
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for k in chunk:
                self.direct[k] = []
            stmt = (
                select(Event, EventEpc.key, EventEpc.role)
                .join(EventEpc, and_(col(EventEpc.event_pk) == col(Event.id)))
                .where(col(EventEpc.key).in_(chunk), col(Event.declaration).is_(False))
            )
            for event, key, role in self.session.exec(stmt.execution_options(populate_existing=True)).all():
                self.direct[key].append((event, role))
                if event.id is not None:
                    new_events[event.id] = event
        agg = [pk for pk, e in new_events.items() if e.event_type == "AggregationEvent" and pk not in self.agg_parent]
        for start in range(0, len(agg), _CHUNK):
            stmt2 = select(EventEpc.event_pk, EventEpc.key).where(
                col(EventEpc.event_pk).in_(agg[start : start + _CHUNK]), EventEpc.role == "parent"
            )
            for pk, key in self.session.exec(stmt2).all():
                self.agg_parent[pk] = key
        ids = sorted({e.event_id for e in new_events.values()})
        for start in range(0, len(ids), _CHUNK):
            stmt3 = select(Event.event_id).where(
                col(Event.declaration).is_(True), col(Event.event_id).in_(ids[start : start + _CHUNK])
            )
            self.retracted.update(self.session.exec(stmt3).all())
        self.codes.update(codes_for_keys(self.session, missing))

    def _direct_containers(self, key: str) -> list[Interval]:
        """Where a unit was packed, and when: from aggregation events, else from the packing record."""
        rows = [
            (e, r) for e, r in self.direct.get(key, ())
            if e.event_type == "AggregationEvent" and r == "child" and e.event_id not in self.retracted
        ]  # fmt: skip
        rows.sort(key=lambda x: _order(x[0]))
        intervals: list[Interval] = []
        open_: dict[str, datetime] = {}
        for event, _ in rows:
            parent = self.agg_parent.get(event.id or -1)
            if parent is None:
                continue
            t = _aware(event.event_time)
            if event.action in ("ADD", "OBSERVE"):
                open_.setdefault(parent, t)
            elif event.action == "DELETE" and parent in open_:
                intervals.append((parent, open_.pop(parent), t))
        intervals.extend((p, t, None) for p, t in open_.items())
        code = self.codes.get(key)
        if not rows and code is not None and code.parent_id is not None:
            parent_row = self.session.get(Code, code.parent_id)
            if parent_row is not None:
                intervals.append((unit_key(parent_row), None, None))
        return intervals

    def containers(self, keys: Iterable[str]) -> dict[str, list[Interval]]:
        """Every container of each key (cases, their pallets …), with the time it was inside, loaded in rounds."""
        result: dict[str, list[Interval]] = {}
        level: dict[str, list[Interval]] = {}
        for key in keys:
            level[key] = self._direct_containers(key)
            result[key] = list(level[key])
        for _ in range(_MAX_DEPTH - 1):
            parents = {p for intervals in level.values() for p, _, _ in intervals}
            if not parents:
                break
            self.load(parents)
            parent_level = {p: self._direct_containers(p) for p in parents}
            next_level: dict[str, list[Interval]] = {}
            for key, intervals in level.items():
                nested: list[Interval] = []
                for parent, start, end in intervals:
                    for grand, g_start, g_end in parent_level.get(parent, []):
                        lo = max((x for x in (start, g_start) if x is not None), default=None)
                        hi = min((x for x in (end, g_end) if x is not None), default=None)
                        nested.append((grand, lo, hi))
                result[key].extend(nested)
                next_level[key] = nested
            level = next_level
        return result

    def events_for(self, keys: Sequence[str]) -> dict[str, list[Event]]:
        """Each unit's non-retracted events, in event-time order."""
        self.load(keys)
        containment = self.containers(keys)
        self.load({p for intervals in containment.values() for p, _, _ in intervals})
        out: dict[str, list[Event]] = {}
        for key in keys:
            events: dict[int, Event] = {}
            for event, role in self.direct.get(key, ()):
                if role in DIRECT_ROLES and event.id is not None:
                    events[event.id] = event
            for container, start, end in containment[key]:
                for event, role in self.direct.get(container, ()):
                    if event.event_type == "AggregationEvent" and role == "parent":
                        continue  # packing and unpacking the container is not an observation of its contents
                    t = _aware(event.event_time)
                    if (start is None or t >= start) and (end is None or t < end) and event.id is not None:
                        events[event.id] = event
            kept = [e for e in events.values() if e.event_id not in self.retracted]
            kept.sort(key=_order)
            out[key] = kept
        return out


DIRECT_ROLES = frozenset({"epc", "child", "parent", "output", "input"})


def events_for_unit(session: Session, key: str) -> list[Event]:
    """Every non-retracted event that concerns a unit, directly or through a container, in event-time order."""
    return Histories(session).events_for([key])[key]


def fold(events: Sequence[Event]) -> UnitView:
    """A unit's status and holder after its events (already in event-time order)."""
    status: CodeStatus | None = None
    holder: str | None = None
    for event in events:
        if status in _TERMINAL:
            break
        new = _STEP_STATUS.get(event.biz_step or "")
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
    histories = Histories(session).events_for(list(codes))
    for key, code in codes.items():
        view = fold(histories[key])
        if view.status is None:
            continue
        if code.status != view.status or code.holder_id != view.holder_id:
            code.status = view.status
            code.holder_id = view.holder_id
            session.add(code)
            changed.append(code)
    session.flush()
    return changed
