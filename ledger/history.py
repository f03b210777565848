"""Unit histories read from the event store, set-based: the one place containment is decided.

A :class:`StoreView` holds the part of the store some work needs: the events naming a set of codes and every case
or pallet that ever held them (:func:`load_view`, a few prebuilt statements per capture, whatever the document's
size), or everything (:func:`load_everything`, sequential scans for a full re-evaluation). :func:`sightings_of`
then assembles one code's history from either. Unit state, the diversion rules, the trail and the settlement facts
all read it, so they cannot disagree about what a unit went through.

Containment, the one rule:

- a unit is inside a container from the aggregation event that adds it (ADD or OBSERVE) until the one that deletes
  it (a deletion with no addition before it: from the start, as a packing record says); an errorDeclaration
  retracts an aggregation like any event;
- where no aggregation event names the unit as a child, its packing record (``Code.parent_id``, set by packing
  through the codes service) stands, for all time; ``AggregationLog`` is the audit trail of those records and is
  not read for containment;
- :data:`MAX_DEPTH` levels are followed above a unit (case, pallet, one more);
- an event on a container reaches what is inside it while it is inside, except the container's own packing and
  unpacking (naming it as ``parentID``), which is not an observation of its contents.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, literal
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from ledger.keys import code_key, gtin_of, serial_of, sscc_of
from traceability.models import Code, Event, EventEpc

__all__ = [
    "CHUNK",
    "CONSUMER_ORIGIN",
    "DIRECT_ROLES",
    "MAX_DEPTH",
    "CodeFacts",
    "EventRow",
    "Named",
    "Sighting",
    "StoreView",
    "StoredEvent",
    "affected_keys",
    "appended",
    "batch",
    "chunks",
    "code_facts",
    "codes_for_keys",
    "containers_of",
    "codes_recorded",
    "contents_of",
    "covering_view",
    "known_code_facts",
    "load_everything",
    "load_view",
    "named_in",
    "no_gc",
    "query",
    "retracted_ids",
    "rows",
    "scan",
    "share_view",
    "shared_view",
    "sightings_of",
    "unit_events",
    "utc",
]

CHUNK = 500
MAX_DEPTH = 3
"""Container levels followed above a unit: case, pallet, and one more."""
CONSUMER_ORIGIN = "consumer"
"""The ``origin`` of an event recorded for an anonymous consumer's check: a sighting no party vouches for."""

DIRECT_ROLES = frozenset({"epc", "child", "parent", "output", "input"})
"""The roles in which an event names the code itself (a ``quantity`` names only its class)."""

_T = TypeVar("_T")
_Raw = tuple[int, str, datetime, str, str | None, str | None, str | None, str | None, str | None, str]
Interval = tuple[str, datetime | None, datetime | None]


class EventRow(NamedTuple):
    """The columns of a stored event that histories are made of; ``retracted`` when an errorDeclaration names it."""

    pk: int
    event_id: str
    time: datetime
    event_type: str
    action: str | None
    biz_step: str | None
    location: str | None
    source: str | None
    destination: str | None
    origin: str
    """Who recorded it: ``epcis``, ``scan``, … or ``consumer`` (an anonymous check: an unverified sighting)."""
    retracted: bool

    @property
    def verified(self) -> bool:
        """Recorded by a known party (a key, a signed-in inspector, the brand), not by an anonymous consumer."""
        return self.origin != CONSUMER_ORIGIN


class StoredEvent(Protocol):
    """What capture-time work reads of a stored event: an ORM :class:`Event`, or the plain row an append hands its
    listeners (:class:`ledger.store.AppendedEvent`, built from what it inserted instead of read back)."""

    @property
    def id(self) -> int | None: ...
    @property
    def event_id(self) -> str: ...
    @property
    def declaration(self) -> bool: ...
    @property
    def event_type(self) -> str: ...
    @property
    def action(self) -> str | None: ...
    @property
    def biz_step(self) -> str | None: ...
    @property
    def event_time(self) -> datetime: ...
    @property
    def location_party_id(self) -> str | None: ...
    @property
    def source_party_id(self) -> str | None: ...
    @property
    def destination_party_id(self) -> str | None: ...
    @property
    def document(self) -> str: ...


class Sighting(NamedTuple):
    """An event concerning a code: naming it (``via`` None, with its ``role``) or a case or pallet holding it."""

    event: EventRow
    via: str | None
    role: str


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """What a code record says about a key: its row, level, state, whether we issued it, and its packing record."""

    id: int
    level: str
    issued: bool
    """Issued by our own serialization (a signing key or a generation batch), not merely recorded."""
    parent: str | None
    """The key of the case or pallet its packing record puts it in."""
    status: str | None = None
    holder: str | None = None
    signed: bool = False
    """Issued with a signature of ours (a signing key): genuine only with that signature."""


def query(*entities: Any) -> Select[Any]:
    """``sqlalchemy.select`` for SQLModel attributes, which mypy sees as plain values rather than columns."""
    return sa_select(*entities)


def rows(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """Execute a read on the session's connection: Core rows, without the ORM's per-statement overhead."""
    return session.connection().execute(stmt, params or {})


def chunks(items: Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """``items`` in lists of at most ``size``: bound parameters per statement stay far below every driver's limit."""
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def utc(value: Any) -> datetime:
    """A timestamp as the driver returns it (SQLite: naive or text; PostgreSQL: aware) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


@dataclass
class StoreView:
    """A slice of the event store, indexed the way histories are assembled."""

    events: dict[int, EventRow] = field(default_factory=dict)
    direct: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """Key → (event pk, role) for every stored (non-declaration) event naming it."""
    agg_parent: dict[int, str] = field(default_factory=dict)
    """Aggregation event pk → the key of its parentID."""
    codes: dict[str, CodeFacts] = field(default_factory=dict)
    retracted: set[str] = field(default_factory=set)
    """eventIDs an errorDeclaration retracted (among the loaded events, or all of them)."""
    first_epc: dict[str, tuple[datetime, str, str]] = field(default_factory=dict)
    """Key → (time, eventID, EPC as captured) of the earliest event naming it, when loaded by key."""
    by_key: bool = False
    """Loaded by :func:`load_view`: ``first_epc`` is complete for the keys asked for."""
    loaded: set[str] = field(default_factory=set, repr=False)
    """Loaded by :func:`load_view`: the keys asked for and every container above them (their code records read)."""
    container_cache: dict[tuple[str, int], list[Interval]] = field(default_factory=dict, repr=False)
    contents_cache: dict[str, list[tuple[EventRow, str]]] = field(default_factory=dict, repr=False)
    sightings_cache: dict[str, list[Sighting]] = field(default_factory=dict, repr=False)
    """Histories already assembled, in a view loaded by key: unit state, the rules and the settlement facts of one
    append each ask for the same codes' histories (a full view assembles each once and does not keep them)."""

    def parties(self) -> set[str]:
        """Every party the loaded events name."""
        out: set[str] = set()
        for e in self.events.values():
            out.update(p for p in (e.location, e.source, e.destination) if p)
        return out


# --- assembling one history ----------------------------------------------------------------------------------------


def containers_of(view: StoreView, key: str, depth: int = 0) -> list[Interval]:
    """(container key, from, until) while ``key`` was inside it, up to :data:`MAX_DEPTH` levels (module rules)."""
    if depth >= MAX_DEPTH:
        return []
    if depth:  # a case's containers are asked for once per unit inside it: remember them
        cached = view.container_cache.get((key, depth))
        if cached is None:
            cached = view.container_cache[(key, depth)] = _containers_of(view, key, depth)
        return cached
    return _containers_of(view, key, depth)


def _containers_of(view: StoreView, key: str, depth: int) -> list[Interval]:
    aggregations = [
        e
        for pk, role in view.direct.get(key, ())
        if role == "child" and (e := view.events[pk]).event_type == "AggregationEvent" and not e.retracted
    ]
    aggregations.sort(key=lambda e: (e.time, e.event_id))
    open_: dict[str, datetime] = {}
    intervals: list[Interval] = []
    for e in aggregations:
        parent = view.agg_parent.get(e.pk)
        if parent is None:
            continue
        if e.action in ("ADD", "OBSERVE"):
            open_.setdefault(parent, e.time)
        elif e.action == "DELETE" and parent in open_:
            intervals.append((parent, open_.pop(parent), e.time))
        elif e.action == "DELETE" and all(p != parent for p, _, _ in intervals):
            # Packed by a record (no event), opened by an event: it was inside from the start until then.
            intervals.append((parent, None, e.time))
    intervals.extend((p, t, None) for p, t in open_.items())
    facts = view.codes.get(key)
    if not aggregations and facts is not None and facts.parent is not None:
        intervals.append((facts.parent, None, None))
    nested: list[Interval] = []
    for parent, start, end in intervals:
        for grand, g_start, g_end in containers_of(view, parent, depth + 1):
            lo = max((x for x in (start, g_start) if x is not None), default=None)
            hi = min((x for x in (end, g_end) if x is not None), default=None)
            nested.append((grand, lo, hi))
    return intervals + nested


def sightings_of(view: StoreView, key: str, *, include_retracted: bool = False) -> list[Sighting]:
    """Every event concerning a code, directly or through a container, in event-time order (ties by eventID)."""
    if include_retracted or not view.by_key:
        return _sightings_of(view, key, include_retracted)
    cached = view.sightings_cache.get(key)
    if cached is None:
        cached = view.sightings_cache[key] = _sightings_of(view, key, False)
    return list(cached)


def _sightings_of(view: StoreView, key: str, include_retracted: bool) -> list[Sighting]:
    found: dict[int, Sighting] = {}
    for pk, role in view.direct.get(key, ()):
        if role in DIRECT_ROLES:
            found[pk] = Sighting(view.events[pk], None, role)
    for container, start, end in containers_of(view, key):
        for e, role in _container_events(view, container):
            if (start is None or e.time >= start) and (end is None or e.time < end) and e.pk not in found:
                found[e.pk] = Sighting(e, container, role)
    kept = [s for s in found.values() if include_retracted or not s.event.retracted]
    kept.sort(key=lambda s: (s.event.time, s.event.event_id))
    return kept


def _container_events(view: StoreView, container: str) -> list[tuple[EventRow, str]]:
    """The events that reach what is inside a container: all naming it but its own packing and unpacking."""
    cached = view.contents_cache.get(container)
    if cached is None:
        cached = view.contents_cache[container] = [
            (view.events[pk], role)
            for pk, role in view.direct.get(container, ())
            if not (role == "parent" and view.events[pk].event_type == "AggregationEvent")
        ]
    return cached


# --- statements, built once: SQLAlchemy compiles each once and a capture pays for execution only ------------------

_EVENT_COLUMNS = (
    Event.id, Event.event_id, Event.event_time, Event.event_type, Event.action, Event.biz_step,
    Event.location_party_id, Event.source_party_id, Event.destination_party_id, Event.origin,
)  # fmt: skip
_VALUES: Any = bindparam("values", expanding=True)
_RETRACTED = query(Event.event_id).where(col(Event.declaration).is_(True), col(Event.event_id).in_(_VALUES))
_PARENT_CODE = aliased(Code)
_CODE_FACTS = query(
    Code.gtin, Code.serial, Code.sscc, Code.level, Code.key_id, Code.batch_id, Code.id, Code.status, Code.holder_id,
    _PARENT_CODE.gtin, _PARENT_CODE.serial, _PARENT_CODE.sscc,
).outerjoin(_PARENT_CODE, col(Code.parent_id) == col(_PARENT_CODE.id))  # fmt: skip
_BY = {
    "serial": and_(col(Code.gtin) == bindparam("gtin"), col(Code.serial).in_(_VALUES)),
    "sscc": col(Code.sscc).in_(_VALUES),
}
_FACTS_BY = {how: _CODE_FACTS.where(condition) for how, condition in _BY.items()}
_CONTAINERS_BY = {how: _CODE_FACTS.where(condition, col(Code.level) != "unit") for how, condition in _BY.items()}
_PACKED_IN = query(Code.parent_id, Code.gtin, Code.serial, Code.sscc).where(col(Code.parent_id).in_(_VALUES))


def _up_statement() -> Select[Any]:
    """``keys`` and every key an aggregation ever put them in, up the levels (a recursive query)."""
    child, parent = aliased(EventEpc), aliased(EventEpc)
    seed = query(EventEpc.key.label("key"), literal(0).label("depth")).where(col(EventEpc.key).in_(_VALUES))  # type: ignore[attr-defined]
    up = seed.cte("up", recursive=True)
    step = (
        query(parent.key, up.c.depth + 1)
        .select_from(up)
        .join(child, and_(col(child.key) == up.c.key, col(child.role) == "child"))
        .join(parent, and_(col(parent.event_pk) == col(child.event_pk), col(parent.role) == "parent"))
        .where(up.c.depth <= MAX_DEPTH)
    )
    return query(up.union(step).c.key).distinct()


def _down_statement() -> Select[Any]:
    """The keys of the events with some eventIDs, and every key packed inside them, down the levels."""
    parent, child = aliased(EventEpc), aliased(EventEpc)
    seed = (
        query(EventEpc.key.label("key"), literal(0).label("depth"))  # type: ignore[attr-defined]
        .join(Event, col(Event.id) == col(EventEpc.event_pk))
        .where(col(Event.event_id).in_(_VALUES))
    )
    down = seed.cte("down", recursive=True)
    step = (
        query(child.key, down.c.depth + 1)
        .select_from(down)
        .join(parent, and_(col(parent.key) == down.c.key, col(parent.role) == "parent"))
        .join(child, and_(col(child.event_pk) == col(parent.event_pk), col(child.role) == "child"))
        .where(down.c.depth <= MAX_DEPTH)
    )
    return query(down.union(step).c.key).distinct()


def _children_statement() -> Select[Any]:
    """(parent key, child key) for every aggregation naming some keys as its parentID."""
    parent, child = aliased(EventEpc), aliased(EventEpc)
    return (
        query(parent.key, child.key)
        .join(child, and_(col(child.event_pk) == col(parent.event_pk), col(child.role) == "child"))
        .where(col(parent.key).in_(_VALUES), col(parent.role) == "parent")
    )


_NAMING = query(EventEpc.key, EventEpc.role, EventEpc.epc, EventEpc.event_pk).where(col(EventEpc.key).in_(_VALUES))
"""Every identifier row naming some keys: which events a view needs (each read once, by :data:`_EVENTS`)."""


def _events_statement() -> Select[Any]:
    """Stored (non-declaration) events by row id, with an aggregation's parent and whether a declaration retracts it.

    By row id, once each: joined to every identifier row naming a loaded key, an event was read once per row (a
    packing event once per unit in its case, with its parent looked up again each time).
    """
    declared, parent = aliased(Event), aliased(EventEpc)
    return (
        query(*_EVENT_COLUMNS, parent.key, declared.id)
        .outerjoin(parent, and_(col(parent.event_pk) == col(Event.id), col(parent.role) == "parent",
                                col(Event.event_type) == "AggregationEvent"))
        .outerjoin(declared, and_(col(declared.event_id) == col(Event.event_id), col(declared.declaration).is_(True)))
        .where(col(Event.id).in_(_VALUES), col(Event.declaration).is_(False))
    )  # fmt: skip


_UP, _DOWN, _EVENTS, _CHILDREN = _up_statement(), _down_statement(), _events_statement(), _children_statement()


# --- code records -----------------------------------------------------------------------------------------------------


def _code_lookups(keys: Iterable[str]) -> Iterator[tuple[str, dict[str, Any], dict[tuple[str, str], str]]]:
    """How (with parameters) to find the code records of ``keys`` through their unique indexes.

    Each comes with the map from (gtin or "", serial or SSCC) of a row back to the key asked for.
    """
    by_gtin: dict[str, dict[str, str]] = {}
    ssccs: dict[str, str] = {}
    for key in keys:
        if (sscc := sscc_of(key)) is not None:
            ssccs[sscc] = key
        elif (gtin := gtin_of(key)) is not None:
            by_gtin.setdefault(gtin, {})[serial_of(key) or ""] = key
    for gtin, serials in sorted(by_gtin.items()):
        for chunk in chunks(sorted(serials)):
            yield "serial", {"gtin": gtin, "values": chunk}, {(gtin, s): serials[s] for s in chunk}
    for chunk in chunks(sorted(ssccs)):
        yield "sscc", {"values": chunk}, {("", s): ssccs[s] for s in chunk}


def code_facts(session: Session, keys: Iterable[str]) -> dict[str, CodeFacts]:
    """Facts of the code records behind ``keys`` (keys of codes we never recorded are absent)."""
    found: dict[str, CodeFacts] = {}
    for how, params, back in _code_lookups(keys):
        for row in rows(session, _FACTS_BY[how], params):
            gtin, serial, sscc, level, key_id, batch_id, pk, status, holder, p_gtin, p_serial, p_sscc = row
            key = back.get(("", sscc) if sscc else (gtin or "", serial or ""))
            if key is not None:
                found[key] = CodeFacts(
                    pk, str(level), key_id is not None or batch_id is not None,
                    code_key(p_gtin, p_serial, p_sscc) if (p_sscc or p_serial) else None, status, holder,
                    key_id is not None,
                )  # fmt: skip
    return found


def codes_for_keys(session: Session, keys: Iterable[str]) -> dict[str, Code]:
    """The code records behind keys as ORM rows, for request-sized work that changes them."""
    ids = {facts.id: key for key, facts in code_facts(session, keys).items()}
    found: dict[str, Code] = {}
    for chunk in chunks(sorted(ids)):
        for code in session.execute(query(Code).where(col(Code.id).in_(chunk))).scalars():
            found[ids[code.id]] = code
    return found


def retracted_ids(session: Session, event_ids: Iterable[str] | None) -> set[str]:
    """The eventIDs among ``event_ids`` (None: all) that an errorDeclaration retracted."""
    if event_ids is None:
        return set(rows(session, query(Event.event_id).where(col(Event.declaration).is_(True))).scalars())
    out: set[str] = set()
    for chunk in chunks(sorted(set(event_ids))):
        out.update(rows(session, _RETRACTED, {"values": chunk}).scalars())
    return out


# --- loading by key (capture time) --------------------------------------------------------------------------------


def _containers_above(session: Session, keys: set[str]) -> set[str]:
    out = set(keys)
    for chunk in chunks(sorted(keys)):
        out.update(rows(session, _UP, {"values": chunk}).scalars())
    return out


_V = TypeVar("_V", bound=StoreView)


def load_view(session: Session, keys: Iterable[str], into: _V | None = None) -> _V | StoreView:
    """The events naming ``keys`` and every case or pallet that ever held them, with what is known of the codes.

    ``into`` is a (sub-classed) view to fill, for callers that keep more beside the events.
    """
    wanted = set(keys)
    view: StoreView = into if into is not None else StoreView()
    view.by_key = True
    loaded: set[str] = set()
    pending = set(wanted)
    while pending:  # containers from aggregation events, then from packing records (which may lead to more)
        containers = _containers_above(session, pending) - loaded
        view.codes.update(code_facts(session, containers))
        loaded |= containers
        pending = {f.parent for f in view.codes.values() if f.parent} - loaded
    view.loaded = loaded
    naming: list[tuple[str, str, str, int]] = []
    for chunk in chunks(sorted(loaded)):
        naming.extend(tuple(row) for row in rows(session, _NAMING, {"values": chunk}))
    raw: dict[int, _Raw] = {}
    parents: dict[int, str] = {}
    retracted: set[int] = set()
    for pks in chunks(sorted({row[3] for row in naming})):
        for pk, event_id, time, *event, parent_key, declaration in rows(session, _EVENTS, {"values": pks}):
            raw[pk] = (pk, event_id, utc(time), *event)
            if parent_key is not None:
                parents[pk] = parent_key
            if declaration is not None:
                retracted.add(pk)
                view.retracted.add(event_id)
    for key, role, epc, pk in naming:
        found = raw.get(pk)
        if found is None:
            continue  # a declaration's identifier rows: the declaration is no event of the history
        view.direct.setdefault(key, []).append((pk, role))
        if role == "child" and pk in parents:
            view.agg_parent.setdefault(pk, parents[pk])
        if pk not in retracted and role != "quantity" and key in wanted:
            first = view.first_epc.get(key)
            if first is None or (found[2], found[1]) < first[:2]:
                view.first_epc[key] = (found[2], found[1], epc)
    _finish(view, raw)
    return view


def _finish(view: StoreView, raw: dict[int, _Raw]) -> None:
    view.events = {pk: EventRow(*row, retracted=row[1] in view.retracted) for pk, row in raw.items()}


_BATCH = "ledger.batch"


Named = dict[int, list[tuple[str, str]]]
"""Event row id → (key, role) of each identifier row it has, in the order they were stored."""


@dataclass
class _Batch:
    """What one append has already worked out, for the steps after it (unit state, then each listener)."""

    pks: tuple[int | None, ...]
    keys: frozenset[str] | None = None
    view: StoreView | None = None
    named: Named = field(default_factory=dict)
    """The identifier rows the append just wrote: the listeners need not read them back."""


@contextmanager
def batch(session: Session, events: Sequence[StoredEvent], named: Named | None = None) -> Iterator[None]:
    """While the events of one append are derived, share its affected keys, the view of them and (``named``) the
    identifier rows it wrote.

    Unit state and every listener ask the same questions of the same events; nothing they write in between changes
    the answers (state columns and derived rows are not what keys or histories are read from; code records written
    by a listener are added to the view, :func:`codes_recorded`), so they are asked of the store once. Outside the
    block, every call reads the store afresh.
    """
    session.info[_BATCH] = _Batch(tuple(e.id for e in events), named=named or {})
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)


def _current(session: Session, events: Sequence[StoredEvent]) -> _Batch | None:
    found = session.info.get(_BATCH)
    if isinstance(found, _Batch) and len(found.pks) == len(events) and found.pks == tuple(e.id for e in events):
        return found
    return None


def appended(session: Session) -> frozenset[int]:
    """Row ids of the events the current append stored (see :func:`batch`); empty outside one.

    Rows derived from an event name its row id, so none can name these yet: a listener need not look for them.
    """
    found = session.info.get(_BATCH)
    return frozenset(pk for pk in found.pks if pk is not None) if isinstance(found, _Batch) else frozenset()


def shared_view(session: Session, keys: set[str], events: Sequence[StoredEvent] | None = None) -> StoreView | None:
    """The view of exactly ``keys`` this append loaded already (see :func:`batch`), if any; given ``events``, only
    when they are the append's own (a step re-deriving other events reads afresh)."""
    found = session.info.get(_BATCH) if events is None else _current(session, events)
    if isinstance(found, _Batch) and found.view is not None and found.keys == frozenset(keys):
        return found.view
    return None


def covering_view(session: Session, keys: Iterable[str]) -> StoreView | None:
    """The view this append loaded (see :func:`batch`) when it holds the whole history of every one of ``keys``.

    A view loaded for more keys gives each of them the same sightings as one loaded for them alone: it holds every
    event naming a loaded key and every container above it.
    """
    found = session.info.get(_BATCH)
    if not isinstance(found, _Batch) or found.view is None or found.keys is None:
        return None
    return found.view if found.keys.issuperset(keys) else None


def known_code_facts(session: Session, keys: Iterable[str]) -> dict[str, CodeFacts]:
    """:func:`code_facts` of ``keys``, from the append's view when it covers them all (:func:`covering_view`: it
    holds their code records as unit state left them), else read from the store."""
    wanted = set(keys)
    view = covering_view(session, wanted)
    if view is None:
        return code_facts(session, wanted)
    return {k: view.codes[k] for k in wanted if k in view.codes}


def codes_recorded(session: Session, keys: Iterable[str]) -> None:
    """Code records were written for ``keys`` during the append: the shared view reads them, and only them, again.

    New records are neither packed inside anything nor hold anything, so the events, containers and affected keys
    of the view stay what they were; only the facts of those codes are new. Without a view, nothing to do.
    """
    found = session.info.get(_BATCH)
    if not isinstance(found, _Batch) or found.view is None:
        return
    view = found.view
    # A record with no packing record of its own puts nothing in a container: histories already assembled stand.
    view.codes.update(code_facts(session, view.loaded.intersection(keys)))


def named_in(session: Session, pks: Iterable[int], stmt: Any, role: str) -> Named:
    """(key, role) of the identifier rows in ``role`` of events: the append's own from memory, others by ``stmt``
    (a select of event pk and key by ``pks``, in stored order)."""
    found = session.info.get(_BATCH)
    known = found.named if isinstance(found, _Batch) else {}
    out: Named = {}
    missing: list[int] = []
    for pk in pks:
        rows_of = known.get(pk)
        if rows_of is None:
            missing.append(pk)
        else:
            kept = [(key, r) for key, r in rows_of if r == role]
            if kept:
                out[pk] = kept
    for chunk in chunks(missing):
        for pk, key in rows(session, stmt, {"pks": chunk}):
            out.setdefault(pk, []).append((key, role))
    return out


def share_view(session: Session, keys: set[str], view: StoreView) -> None:
    """Offer a view of the append's affected ``keys`` to the steps after this one."""
    found = session.info.get(_BATCH)
    if isinstance(found, _Batch) and found.keys == frozenset(keys):
        found.view = view


def affected_keys(session: Session, events: Sequence[StoredEvent]) -> set[str]:
    """The codes whose histories new events change: those they name (or a retracted event named) and their contents."""
    shared = _current(session, events)
    if shared is not None and shared.keys is not None:
        return set(shared.keys)
    keys = _affected(session, events)
    if shared is not None:
        shared.keys = frozenset(keys)
    return keys


def _affected(session: Session, events: Sequence[StoredEvent]) -> set[str]:
    keys: set[str] = set()
    # The keys of the events with these eventIDs: the new events themselves, and what a declaration retracts.
    for chunk in chunks(sorted({e.event_id for e in events})):
        keys.update(rows(session, _DOWN, {"values": chunk}).scalars())
    frontier = keys
    for _level in range(MAX_DEPTH + 1):
        frontier = set().union(*_packed_inside(session, frontier).values()) - keys
        if not frontier:
            break
        keys |= frontier
    return keys


def _packed_inside(session: Session, keys: Iterable[str]) -> dict[str, set[str]]:
    """Container key → the keys of the codes whose packing records put them inside it."""
    containers: dict[int, str] = {}
    for how, params, back in _code_lookups(keys):
        for row in rows(session, _CONTAINERS_BY[how], params):
            gtin, serial, sscc, pk = row[0], row[1], row[2], row[6]
            key = back.get(("", sscc) if sscc else (gtin or "", serial or ""))
            if key is not None:
                containers[pk] = key
    out: dict[str, set[str]] = {}
    for chunk in chunks(sorted(containers)):
        for parent_id, gtin, serial, sscc in rows(session, _PACKED_IN, {"values": chunk}):
            out.setdefault(containers[parent_id], set()).add(code_key(gtin, serial, sscc))
    return out


def contents_of(session: Session, containers: Iterable[str]) -> dict[str, set[str]]:
    """Container key → every key ever packed inside it, at any depth (aggregation events and packing records).

    Whether a key was inside *at a given time* is then a matter of its sightings (:func:`sightings_of`).
    """
    result: dict[str, set[str]] = {}
    frontier = {c: {c} for c in set(containers)}  # key at this level → the top containers it descends from
    for _level in range(MAX_DEPTH):
        children: dict[str, set[str]] = {}
        for chunk in chunks(sorted(frontier)):
            for parent, child in rows(session, _CHILDREN, {"values": chunk}):
                children.setdefault(parent, set()).add(child)
        for parent, packed in _packed_inside(session, frontier).items():
            children.setdefault(parent, set()).update(packed)
        following: dict[str, set[str]] = {}
        for parent, packed in children.items():
            for top in frontier[parent]:
                fresh = packed - result.setdefault(top, set())
                result[top] |= fresh
                for child in fresh:
                    following.setdefault(child, set()).add(top)
        if not following:
            break
        frontier = following
    return result


def unit_events(session: Session, key: str) -> list[EventRow]:
    """Every non-retracted event that concerns one code, directly or through a container, in event-time order."""
    return [s.event for s in sightings_of(load_view(session, [key]), key)]


# --- loading everything (full re-evaluation) ----------------------------------------------------------------------


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic rows are built: it would rescan them all,
    again and again, and take longer than the building."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def scan(session: Session, stmt: Any, batch: int = 50_000) -> Iterator[tuple[Any, ...]]:
    """Stream a parameterless query through the driver's own cursor: millions of rows, without per-row wrappers.

    The statement is compiled with its literals inlined, so it must hold no values but constant strings.
    """
    connection = session.connection()
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        while chunk := cursor.fetchmany(batch):
            yield from chunk
    finally:
        cursor.close()


def load_everything(
    session: Session, *, only: ColumnElement[bool] | None = None, into: _V | None = None
) -> _V | StoreView:
    """The whole store in one view (or the events matching ``only``), read with sequential scans, no per-code query.

    With ``only`` (constant conditions on the event columns), the code records loaded are just the packing records:
    what containment needs, not issuance.
    """
    view: StoreView = into if into is not None else StoreView()
    raw: dict[int, _Raw] = {}
    intern: dict[str, str] = {}
    g = intern.setdefault
    stmt = query(*_EVENT_COLUMNS, Event.declaration)
    if only is not None:
        stmt = stmt.where(only, col(Event.declaration).is_(False))
        view.retracted = retracted_ids(session, None)
    for pk, event_id, time, event_type, action, step, location, source, destination, origin, declaration in scan(
        session, stmt
    ):
        if declaration:
            view.retracted.add(event_id)
            continue
        raw[pk] = (
            pk, event_id, utc(time), g(event_type, event_type), action and g(action, action),
            step and g(step, step), location and g(location, location), source and g(source, source),
            destination and g(destination, destination), g(origin, origin),
        )  # fmt: skip
    epc_stmt = query(EventEpc.event_pk, EventEpc.key, EventEpc.role)
    if only is not None:
        epc_stmt = epc_stmt.join(Event, col(Event.id) == col(EventEpc.event_pk)).where(only)
    direct = view.direct
    for pk, key, role in scan(session, epc_stmt):
        event = raw.get(pk)
        if event is None:
            continue  # a declaration's identifiers: the declaration is not an event of its own
        role = g(role, role)
        if role == "parent" and event[3] == "AggregationEvent":
            view.agg_parent.setdefault(pk, key)
        bucket = direct.get(key)
        if bucket is None:
            direct[sys.intern(key)] = [(pk, role)]
        else:
            bucket.append((pk, role))
    parent = aliased(Code)
    code_stmt = query(
        Code.gtin, Code.serial, Code.sscc, Code.level, Code.key_id, Code.batch_id, Code.id, Code.status,
        Code.holder_id, parent.gtin, parent.serial, parent.sscc,
    ).outerjoin(parent, col(Code.parent_id) == col(parent.id))  # fmt: skip
    if only is not None:
        code_stmt = code_stmt.where(col(Code.parent_id).is_not(None))
    for gtin, serial, sscc, level, key_id, batch_id, pk, status, holder, p_gtin, p_serial, p_sscc in scan(
        session, code_stmt
    ):
        view.codes[code_key(gtin, serial, sscc)] = CodeFacts(
            pk, g(level, level), key_id is not None or batch_id is not None,
            code_key(p_gtin, p_serial, p_sscc) if (p_sscc or p_serial) else None, status, holder, key_id is not None,
        )  # fmt: skip
    _finish(view, raw)
    return view
