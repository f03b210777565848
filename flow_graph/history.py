"""Unit histories and master data read from the store, for the rules, the trail and the leak analysis.

A :class:`StoreView` holds the part of the event store some work needs: the events naming a set of codes and the
cases and pallets that held them (:func:`load_view`, a few set-based queries per capture), or everything
(:func:`load_everything`, sequential scans for a full re-evaluation). :func:`history_of` then assembles one code's
history from either, with the containment semantics of :mod:`scanning.state` (an event on a case reaches the units
inside it while they were inside), so the rules see exactly what unit state sees.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from sqlalchemy import ColumnElement, Select, and_, bindparam, literal, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from flow_graph.rules import EventRow, MasterData, PartyInfo, Rejection, Sighting, UnitHistory, sgtin_gtin
from scanning.state import DIRECT_ROLES  # the roles in which an event names the unit itself, as unit state reads them
from traceability.models import (
    Code,
    CounterfeitScan,
    Event,
    EventEpc,
    Party,
    PartyTerritory,
    Product,
    StoreSupplier,
    Territory,
)

__all__ = [
    "DIRECT_ROLES",
    "CodeFacts",
    "StoreView",
    "affected_keys",
    "case_gtins",
    "code_facts",
    "code_key",
    "containers_of",
    "epcs_as_captured",
    "history_of",
    "is_unit",
    "load_everything",
    "load_masterdata",
    "load_view",
    "no_gc",
    "query",
    "retracted_ids",
    "sightings_of",
]

CHUNK = 500
MAX_DEPTH = 3
"""Container levels followed above a unit, as in :mod:`scanning.state` (case, pallet, and one more)."""

_SSCC_ROOT = "https://id.gs1.org/00/"
_T = TypeVar("_T")
_Raw = tuple[int, str, datetime, str, str | None, str | None, str | None, str | None, str | None]
Interval = tuple[str, datetime | None, datetime | None]


def query(*entities: Any) -> Select[Any]:
    """``sqlalchemy.select`` for SQLModel attributes, which mypy sees as plain values rather than columns."""
    return sa_select(*entities)


def _chunks(items: Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def code_key(gtin: str | None, serial: str | None, sscc: str | None) -> str:
    """The matching key of a code record, in the form :func:`scanning.state.unit_key` gives it."""
    if sscc:
        return _SSCC_ROOT + sscc
    return f"https://id.gs1.org/01/{gtin}/21/{quote(serial or '', safe='')}"


@dataclass(frozen=True, slots=True)
class CodeFacts:
    level: str
    issued: bool
    """Issued by our own serialization (a signing key or a generation batch), not merely recorded."""
    parent: str | None
    """The key of the case or pallet its packing record puts it in."""


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
    rejections: dict[str, list[Rejection]] = field(default_factory=dict)
    case_gtins: frozenset[str] = frozenset()
    first_epc: dict[str, tuple[datetime, str, str]] = field(default_factory=dict)
    """Key → (time, eventID, EPC as captured) of the earliest event naming it, when loaded by key."""
    by_key: bool = False
    """Loaded by :func:`load_view`: ``first_epc`` is complete for the keys asked for."""
    container_cache: dict[tuple[str, int], list[Interval]] = field(default_factory=dict, repr=False)
    contents_cache: dict[str, list[tuple[EventRow, str]]] = field(default_factory=dict, repr=False)

    def parties(self) -> set[str]:
        """Every party the loaded events and rejections name."""
        out: set[str] = set()
        for e in self.events.values():
            out.update(p for p in (e.location, e.source, e.destination) if p)
        for rows in self.rejections.values():
            out.update(r.party for r in rows if r.party)
        return out


# --- assembling one history ----------------------------------------------------------------------------------------


def containers_of(view: StoreView, key: str, depth: int = 0) -> list[Interval]:
    """(container key, from, until) while ``key`` was inside it: aggregation events, else the packing record.

    The same containment as :class:`scanning.state.Histories`: :data:`MAX_DEPTH` levels (case, pallet, one more),
    retracted aggregations ignored, and the packing record consulted only when no aggregation event stands.
    """
    if depth >= MAX_DEPTH:
        return []
    if depth:  # a case's containers are asked for once per unit inside it: remember them
        cached = view.container_cache.get((key, depth))
        if cached is None:
            cached = view.container_cache[(key, depth)] = _containers_of(view, key, depth)
        return cached
    return _containers_of(view, key, depth)


def _containers_of(view: StoreView, key: str, depth: int) -> list[Interval]:
    rows = [
        e
        for pk, role in view.direct.get(key, ())
        if role == "child" and (e := view.events[pk]).event_type == "AggregationEvent" and not e.retracted
    ]
    rows.sort(key=lambda e: (e.time, e.event_id))
    open_: dict[str, datetime] = {}
    intervals: list[Interval] = []
    for e in rows:
        parent = view.agg_parent.get(e.pk)
        if parent is None:
            continue
        if e.action in ("ADD", "OBSERVE"):
            open_.setdefault(parent, e.time)
        elif e.action == "DELETE" and parent in open_:
            intervals.append((parent, open_.pop(parent), e.time))
    intervals.extend((p, t, None) for p, t in open_.items())
    facts = view.codes.get(key)
    if not rows and facts is not None and facts.parent is not None:
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


def is_unit(view: StoreView, key: str) -> bool:
    """A trade-item unit (GTIN + serial of a unit GTIN), not a case or pallet, nor anything that held others."""
    gtin = sgtin_gtin(key)
    if gtin is None or gtin in view.case_gtins:
        return False
    facts = view.codes.get(key)
    if facts is not None and facts.level != "unit":
        return False
    return not any(role == "parent" for _, role in view.direct.get(key, ()))


def history_of(view: StoreView, key: str) -> UnitHistory:
    """One code's history as the rules read it."""
    facts = view.codes.get(key)
    return UnitHistory(
        key=key,
        sightings=sightings_of(view, key),
        is_unit=is_unit(view, key),
        issued=facts is not None and facts.issued,
        rejections=sorted(view.rejections.get(key, ()), key=lambda r: r.id),
    )


# --- loading by key (capture time) --------------------------------------------------------------------------------

_EVENT_COLUMNS = (
    Event.id, Event.event_id, Event.event_time, Event.event_type, Event.action, Event.biz_step,
    Event.location_party_id, Event.source_party_id, Event.destination_party_id,
)  # fmt: skip


def rows(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """Execute a read on the session's connection: Core rows, without the ORM's per-statement overhead."""
    return session.connection().execute(stmt, params or {})


def _finish(view: StoreView, raw: dict[int, _Raw]) -> None:
    view.events = {pk: EventRow(*row, retracted=row[1] in view.retracted) for pk, row in raw.items()}


# Statements are built once: SQLAlchemy then compiles each once, and a capture pays for execution only.
_VALUES: Any = bindparam("values", expanding=True)
_RETRACTED = query(Event.event_id).where(col(Event.declaration).is_(True), col(Event.event_id).in_(_VALUES))
_PARENT_CODE = aliased(Code)
_CODE_FACTS = query(
    Code.gtin, Code.serial, Code.sscc, Code.level, Code.key_id, Code.batch_id, Code.id,
    _PARENT_CODE.gtin, _PARENT_CODE.serial, _PARENT_CODE.sscc,
).outerjoin(_PARENT_CODE, col(Code.parent_id) == col(_PARENT_CODE.id))  # fmt: skip
_BY = {
    "serial": and_(col(Code.gtin) == bindparam("gtin"), col(Code.serial).in_(_VALUES)),
    "sscc": col(Code.sscc).in_(_VALUES),
}
_FACTS_BY = {how: _CODE_FACTS.where(condition) for how, condition in _BY.items()}
_CONTAINERS_BY = {how: _CODE_FACTS.where(condition, col(Code.level) != "unit") for how, condition in _BY.items()}
_PACKED_IN = query(Code.gtin, Code.serial, Code.sscc).where(col(Code.parent_id).in_(_VALUES))
_CASE_GTINS = query(Product.case_gtin).where(col(Product.case_gtin).is_not(None))
_REJECTIONS = query(
    CounterfeitScan.unit_key, CounterfeitScan.rejected_scan_id, CounterfeitScan.party_id, CounterfeitScan.reason,
    CounterfeitScan.received_at, CounterfeitScan.epc,
)  # fmt: skip
_REJECTIONS_BY_KEY = _REJECTIONS.where(col(CounterfeitScan.unit_key).in_(_VALUES))


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


def _direct_statement() -> Select[Any]:
    """Every stored event naming some keys, with the parent of an aggregation and whether it was retracted."""
    declared, parent = aliased(Event), aliased(EventEpc)
    return (
        query(EventEpc.key, EventEpc.role, EventEpc.epc, *_EVENT_COLUMNS, parent.key, declared.id)
        .join(Event, and_(col(Event.id) == col(EventEpc.event_pk), col(Event.declaration).is_(False)))
        .outerjoin(parent, and_(col(parent.event_pk) == col(EventEpc.event_pk), col(parent.role) == "parent",
                                col(EventEpc.role) == "child"))
        .outerjoin(declared, and_(col(declared.event_id) == col(Event.event_id), col(declared.declaration).is_(True)))
        .where(col(EventEpc.key).in_(_VALUES))
    )  # fmt: skip


_UP, _DOWN, _DIRECT = _up_statement(), _down_statement(), _direct_statement()


def retracted_ids(session: Session, event_ids: Iterable[str] | None) -> set[str]:
    """The eventIDs among ``event_ids`` (None: all) that an errorDeclaration retracted."""
    if event_ids is None:
        return set(rows(session, query(Event.event_id).where(col(Event.declaration).is_(True))).scalars())
    out: set[str] = set()
    for chunk in _chunks(sorted(set(event_ids))):
        out.update(rows(session, _RETRACTED, {"values": chunk}).scalars())
    return out


def _code_lookups(keys: Iterable[str]) -> Iterator[tuple[str, dict[str, Any], dict[tuple[str, str], str]]]:
    """How (with parameters) to find the code records of ``keys`` through their unique indexes.

    Each comes with the map from (gtin or "", serial or SSCC) of a row back to the key asked for.
    """
    by_gtin: dict[str, dict[str, str]] = {}
    ssccs: dict[str, str] = {}
    for key in keys:
        if key.startswith(_SSCC_ROOT):
            ssccs[key.removeprefix(_SSCC_ROOT)] = key
        elif (gtin := sgtin_gtin(key)) is not None:
            by_gtin.setdefault(gtin, {})[unquote(key.rsplit("/", 1)[1])] = key
    for gtin, serials in sorted(by_gtin.items()):
        for chunk in _chunks(sorted(serials)):
            yield "serial", {"gtin": gtin, "values": chunk}, {(gtin, s): serials[s] for s in chunk}
    for chunk in _chunks(sorted(ssccs)):
        yield "sscc", {"values": chunk}, {("", s): ssccs[s] for s in chunk}


def code_facts(session: Session, keys: Iterable[str]) -> dict[str, CodeFacts]:
    """Facts of the code records behind ``keys`` (keys of codes we never recorded are absent)."""
    found: dict[str, CodeFacts] = {}
    for how, params, back in _code_lookups(keys):
        for row in rows(session, _FACTS_BY[how], params):
            gtin, serial, sscc, level, key_id, batch_id, _, p_gtin, p_serial, p_sscc = row
            key = back.get(("", sscc) if sscc else (gtin or "", serial or ""))
            if key is not None:
                has_parent = p_sscc or p_serial
                found[key] = CodeFacts(
                    str(level), key_id is not None or batch_id is not None,
                    code_key(p_gtin, p_serial, p_sscc) if has_parent else None,
                )  # fmt: skip
    return found


def case_gtins(session: Session) -> frozenset[str]:
    return frozenset(g for g in rows(session, _CASE_GTINS).scalars() if g)


def _load_rejections(session: Session, view: StoreView, keys: Iterable[str] | None) -> None:
    batches: Iterable[dict[str, Any] | None] = [None] if keys is None else (
        {"values": chunk} for chunk in _chunks(sorted(set(keys)))
    )  # fmt: skip
    for params in batches:
        for key, *rejection in rows(session, _REJECTIONS if params is None else _REJECTIONS_BY_KEY, params):
            view.rejections.setdefault(key, []).append(Rejection(*rejection))


def _containers_above(session: Session, keys: set[str]) -> set[str]:
    out = set(keys)
    for chunk in _chunks(sorted(keys)):
        out.update(rows(session, _UP, {"values": chunk}).scalars())
    return out


def load_view(session: Session, keys: Iterable[str]) -> StoreView:
    """The events naming ``keys`` and every case or pallet that ever held them, with what is known of the codes."""
    wanted = set(keys)
    view = StoreView(by_key=True)
    loaded: set[str] = set()
    pending = set(wanted)
    while pending:  # containers from aggregation events, then from packing records (which may lead to more)
        containers = _containers_above(session, pending) - loaded
        view.codes.update(code_facts(session, containers))
        loaded |= containers
        pending = {f.parent for f in view.codes.values() if f.parent} - loaded
    raw: dict[int, _Raw] = {}
    for chunk in _chunks(sorted(loaded)):
        for key, role, epc, *event, parent_key, declaration in rows(session, _DIRECT, {"values": chunk}):
            pk = event[0]
            raw[pk] = tuple(event)
            view.direct.setdefault(key, []).append((pk, role))
            if parent_key is not None and event[3] == "AggregationEvent":
                view.agg_parent.setdefault(pk, parent_key)
            if declaration is not None:
                view.retracted.add(event[1])
            elif role != "quantity" and key in wanted:
                first = view.first_epc.get(key)
                if first is None or (event[2], event[1]) < first[:2]:
                    view.first_epc[key] = (event[2], event[1], epc)
    _finish(view, raw)
    _load_rejections(session, view, wanted)
    view.case_gtins = case_gtins(session)
    return view


def affected_keys(session: Session, events: Sequence[Event]) -> set[str]:
    """The codes whose histories new events change: those they name (or a retracted event named) and their contents."""
    keys: set[str] = set()
    # The keys of the events with these eventIDs: the new events themselves, and what a declaration retracts.
    for chunk in _chunks(sorted({e.event_id for e in events})):
        keys.update(rows(session, _DOWN, {"values": chunk}).scalars())
    frontier = keys
    for _level in range(MAX_DEPTH + 1):
        frontier = _packed_inside(session, frontier) - keys
        if not frontier:
            break
        keys |= frontier
    return keys


def _packed_inside(session: Session, keys: Iterable[str]) -> set[str]:
    """Keys of the codes whose packing records put them inside any of ``keys``."""
    containers: list[int] = []
    for how, params, _ in _code_lookups(keys):
        for row in rows(session, _CONTAINERS_BY[how], params):
            containers.append(row[6])
    out: set[str] = set()
    for chunk in _chunks(containers):
        out.update(code_key(*row) for row in rows(session, _PACKED_IN, {"values": chunk}))
    return out


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


def _scan(session: Session, stmt: Any, batch: int = 50_000) -> Iterator[tuple[Any, ...]]:
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


def _utc(value: Any) -> datetime:
    """A timestamp as the driver returns it (SQLite: text; PostgreSQL: an aware datetime) as an aware UTC datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC) if value.tzinfo is not UTC else value


def load_everything(session: Session, *, only: ColumnElement[bool] | None = None) -> StoreView:
    """The whole store in one view (or the events matching ``only``), read with sequential scans, no per-code query.

    With ``only`` (constant conditions on the event columns), the code records loaded are just the packing records:
    what containment needs, not issuance.
    """
    view = StoreView()
    raw: dict[int, _Raw] = {}
    intern: dict[str, str] = {}
    g = intern.setdefault
    stmt = query(*_EVENT_COLUMNS, Event.declaration)
    if only is not None:
        stmt = stmt.where(only, col(Event.declaration).is_(False))
        view.retracted = retracted_ids(session, None)
    for pk, event_id, time, event_type, action, step, location, source, destination, declaration in _scan(
        session, stmt
    ):
        if declaration:
            view.retracted.add(event_id)
            continue
        raw[pk] = (
            pk, event_id, _utc(time), g(event_type, event_type), action and g(action, action),
            step and g(step, step), location and g(location, location), source and g(source, source),
            destination and g(destination, destination),
        )  # fmt: skip
    epc_stmt = query(EventEpc.event_pk, EventEpc.key, EventEpc.role)
    if only is not None:
        epc_stmt = epc_stmt.join(Event, col(Event.id) == col(EventEpc.event_pk)).where(only)
    direct = view.direct
    for pk, key, role in _scan(session, epc_stmt):
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
        Code.gtin, Code.serial, Code.sscc, Code.level, Code.key_id, Code.batch_id, parent.gtin, parent.serial,
        parent.sscc,
    ).outerjoin(parent, col(Code.parent_id) == col(parent.id))  # fmt: skip
    if only is not None:
        code_stmt = code_stmt.where(col(Code.parent_id).is_not(None))
    for gtin, serial, sscc, level, key_id, batch_id, p_gtin, p_serial, p_sscc in _scan(session, code_stmt):
        has_parent = p_sscc or p_serial
        view.codes[code_key(gtin, serial, sscc)] = CodeFacts(
            g(level, level), key_id is not None or batch_id is not None,
            code_key(p_gtin, p_serial, p_sscc) if has_parent else None,
        )  # fmt: skip
    _finish(view, raw)
    _load_rejections(session, view, None)
    view.case_gtins = case_gtins(session)
    return view


# --- master data ----------------------------------------------------------------------------------------------------


def _masterdata_statements() -> tuple[Any, ...]:
    """Parties, territories and links, all of them and (with ``values``) those some parties need."""
    columns = (Party.id, Party.kind, Party.territory_id, Party.owner_id, Party.lat, Party.lon)
    auth = query(literal("a"), PartyTerritory.party_id, PartyTerritory.territory_id)
    supply = query(literal("s"), StoreSupplier.store_id, StoreSupplier.distributor_id)
    everything = (query(*columns), query(Territory.id, Territory.parent_id), union_all(auth, supply))
    # The parties named, their owners up the chain, and their territories up the tree.
    owners = query(Party.id.label("id")).where(col(Party.id).in_(_VALUES)).cte("owners", recursive=True)  # type: ignore[attr-defined]
    owners = owners.union(query(Party.owner_id).join(owners, col(Party.id) == owners.c.id))
    involved = query(owners.c.id)
    tree = query(Party.territory_id.label("id")).where(col(Party.id).in_(involved)).cte("tree", recursive=True)  # type: ignore[attr-defined]
    tree = tree.union(query(Territory.parent_id).join(tree, col(Territory.id) == tree.c.id))
    some = (
        query(*columns).where(col(Party.id).in_(involved)),
        query(Territory.id, Territory.parent_id).where(col(Territory.id).in_(query(tree.c.id))),
        union_all(auth.where(col(PartyTerritory.party_id).in_(involved)),
                  supply.where(col(StoreSupplier.store_id).in_(involved))),
    )  # fmt: skip
    return everything, some


_MASTERDATA_ALL, _MASTERDATA_SOME = _masterdata_statements()


def load_masterdata(session: Session, parties: Iterable[str] | None = None) -> MasterData:
    """Parties (with owners), territory ancestry, authorisations and supply links: all, or what ``parties`` need."""
    params = None if parties is None else {"values": sorted(set(parties))}
    party_stmt, territory_stmt, links = _MASTERDATA_ALL if params is None else _MASTERDATA_SOME
    if params is not None and not params["values"]:
        return MasterData(parties={}, ancestors={}, authorised={}, suppliers=set())
    infos = {
        pid: PartyInfo(str(kind), territory, owner, lat, lon)
        for pid, kind, territory, owner, lat, lon in rows(session, party_stmt, params)
    }
    parents: dict[str, str | None] = dict(rows(session, territory_stmt, params).all())
    ancestors: dict[str, frozenset[str]] = {}
    for territory in parents:
        chain: list[str] = []
        node: str | None = territory
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
        ancestors[territory] = frozenset(chain)
    authorised: dict[str, set[str]] = {}
    suppliers: set[tuple[str, str]] = set()
    for link, a, b in rows(session, links, params):
        if link == "a":
            authorised.setdefault(a, set()).add(b)
        else:
            suppliers.add((a, b))
    return MasterData(
        parties=infos,
        ancestors=ancestors,
        authorised={p: frozenset(t) for p, t in authorised.items()},
        suppliers=suppliers,
    )


def epcs_as_captured(session: Session, view: StoreView, keys: Iterable[str]) -> dict[str, str]:
    """Each code's EPC as first captured (earliest event naming it); for scans only, the scanned code's key."""
    wanted = sorted(set(keys))
    best: dict[str, tuple[datetime, str, str]] = {k: view.first_epc[k] for k in wanted if k in view.first_epc}
    missing = [k for k in wanted if k not in best] if not view.by_key else []
    for chunk in _chunks(missing):
        stmt = (
            query(EventEpc.key, EventEpc.epc, Event.event_time, Event.event_id)
            .join(Event, col(Event.id) == col(EventEpc.event_pk))
            .where(col(EventEpc.key).in_(chunk), col(Event.declaration).is_(False), col(EventEpc.role) != "quantity")
        )
        for key, epc, time, event_id in rows(session, stmt):
            if event_id in view.retracted:
                continue
            candidate = (time, event_id, epc)
            if key not in best or candidate < best[key]:
                best[key] = candidate
    out = {k: v[2] for k, v in best.items()}
    for key in wanted:
        if key not in out:
            rejections = view.rejections.get(key)
            out[key] = min(rejections, key=lambda r: r.id).epc if rejections else key
    return out
