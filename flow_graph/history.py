"""What the diversion rules read beyond the ledger: counterfeit-evidence rejections, case GTINs and master data.

Histories themselves come from :mod:`ledger.history` (the one containment rule); this module adds what only the
rules, the trail and the leak analysis need, in a :class:`FlowView` the ledger fills, and turns one code's
sightings into the :class:`~flow_graph.rules.UnitHistory` the rules evaluate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, bindparam, func, literal, null, union, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from flow_graph.rules import MasterData, PartyInfo, Rejection, UnitHistory
from ledger import history as ledger
from ledger import masterdata
from ledger.history import StoreView, chunks, code_facts, query, rows, sightings_of, utc
from ledger.keys import gtin_of, is_sgtin_key
from traceability.models import (
    Alert,
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
    "FlowView",
    "Partition",
    "code_partitions",
    "count_codes",
    "epcs_as_captured",
    "history_of",
    "is_unit",
    "load_everything",
    "load_masterdata",
    "load_partition",
    "load_view",
]


@dataclass
class FlowView(StoreView):
    """A ledger view with the counterfeit-evidence rejections of its codes and the GTINs that name cases."""

    rejections: dict[str, list[Rejection]] = field(default_factory=dict)
    case_gtins: frozenset[str] = frozenset()

    def parties(self) -> set[str]:
        """Every party the loaded events and rejections name."""
        out = super().parties()
        for found in self.rejections.values():
            out.update(r.party for r in found if r.party)
        return out


def is_unit(view: FlowView, key: str) -> bool:
    """A trade-item unit (GTIN + serial of a unit GTIN), not a case or pallet, nor anything that held others."""
    gtin = gtin_of(key)
    if gtin is None or gtin in view.case_gtins:
        return False
    facts = view.codes.get(key)
    if facts is not None and facts.level != "unit":
        return False
    return not any(role == "parent" for _, role in view.direct.get(key, ()))


def history_of(view: FlowView, key: str) -> UnitHistory:
    """One code's history as the rules read it."""
    facts = view.codes.get(key)
    return UnitHistory(
        key=key,
        sightings=sightings_of(view, key),
        is_unit=is_unit(view, key),
        issued=facts is not None and facts.issued,
        rejections=sorted(view.rejections.get(key, ()), key=lambda r: r.id),
    )


_VALUES: Any = bindparam("values", expanding=True)
_CASE_GTINS = query(Product.case_gtin).where(col(Product.case_gtin).is_not(None))
_REJECTIONS = query(
    CounterfeitScan.unit_key, CounterfeitScan.rejected_scan_id, CounterfeitScan.party_id, CounterfeitScan.reason,
    CounterfeitScan.received_at, CounterfeitScan.epc,
)  # fmt: skip
_REJECTIONS_BY_KEY = _REJECTIONS.where(col(CounterfeitScan.unit_key).in_(_VALUES))
_REJECTIONS_BETWEEN = _REJECTIONS.where(col(CounterfeitScan.unit_key).between(bindparam("lo"), bindparam("hi")))


def case_gtins(session: Session) -> frozenset[str]:
    """The GTINs that name cases (product master data), reused until master data changes."""
    return masterdata.cached(session, "flow_graph.history.case_gtins", _fetch_case_gtins)


def _fetch_case_gtins(session: Session) -> frozenset[str]:
    return frozenset(g for g in rows(session, _CASE_GTINS).scalars() if g)


def _load_rejections(session: Session, view: FlowView, keys: Iterable[str] | None) -> None:
    batches: Iterable[dict[str, Any] | None] = [None] if keys is None else (
        {"values": chunk} for chunk in chunks(sorted(set(keys)))
    )  # fmt: skip
    for params in batches:
        for key, pk, party, reason, received, epc in rows(
            session, _REJECTIONS if params is None else _REJECTIONS_BY_KEY, params
        ):
            view.rejections.setdefault(key, []).append(Rejection(pk, party, reason, utc(received), epc))


def load_view(session: Session, keys: Iterable[str]) -> FlowView:
    """The ledger's view of ``keys`` (and their containers), with their rejections and the case GTINs."""
    wanted = set(keys)
    shared = ledger.shared_view(session, wanted)
    if shared is not None:  # the append's own view of these codes (ledger.history.batch): not read twice
        view = FlowView(**{f.name: getattr(shared, f.name) for f in fields(ledger.StoreView)})
    else:
        view = FlowView()
        ledger.load_view(session, wanted, into=view)
    _load_rejections(session, view, wanted)
    view.case_gtins = case_gtins(session)
    return view


def load_everything(session: Session, *, only: ColumnElement[bool] | None = None) -> FlowView:
    """The whole store (or the events matching ``only``) with every rejection, for a full re-evaluation."""
    view = FlowView()
    ledger.load_everything(session, only=only, into=view)
    _load_rejections(session, view, None)
    view.case_gtins = case_gtins(session)
    return view


# --- the whole store, a partition of codes at a time (full re-evaluation) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Partition:
    """One slice of the store's codes, in key order: how many keys it covered, and those the rules must look at
    (the GTIN + serials events name, and every key with counterfeit evidence or a stored alert)."""

    scanned: int
    keys: frozenset[str]
    first: str
    last: str
    """The first and last key walked: the partition covers the keys between them, in the database's order."""


def _partition_statement(*, first: bool) -> Any:
    """The next ``n`` distinct keys after ``after`` (from ``after`` on, for the first) of the event identifiers,
    the counterfeit evidence and the alerts, each with where it was found: three index range scans, merged."""
    after: Any = bindparam("after")
    n: Any = bindparam("n", type_=Integer)
    parts = []
    for column, source in ((EventEpc.key, "e"), (CounterfeitScan.unit_key, "r"), (Alert.unit_key, "a")):
        c = col(column)
        found = (
            query(c.label("key")).where(c >= after if first else c > after).distinct().order_by(c).limit(n).subquery()
        )
        parts.append(query(found.c.key, literal(source).label("source")))
    merged = union_all(*parts).subquery()
    return query(merged.c.key, merged.c.source).order_by(merged.c.key)


_FIRST_PARTITION, _NEXT_PARTITION = _partition_statement(first=True), _partition_statement(first=False)
_ALL_CODES = union(query(EventEpc.key), query(CounterfeitScan.unit_key), query(Alert.unit_key)).subquery()
_COUNT_CODES = query(func.count()).select_from(_ALL_CODES)


def count_codes(session: Session) -> int:
    """How many distinct keys :func:`code_partitions` walks through (for progress reports)."""
    return int(rows(session, _COUNT_CODES).scalar_one())


def code_partitions(session: Session, size: int) -> Iterator[Partition]:
    """Every key of the store in partitions of at most ``size``, in the database's key order, read with keyset
    pagination: memory holds one partition's keys, never the store's. Keys written while walking (alerts raised
    for keys already passed) are not met again."""
    after: str | None = None
    while True:
        stmt = _FIRST_PARTITION if after is None else _NEXT_PARTITION
        sources: dict[str, set[str]] = {}
        # The driver's own rows, read only as far as the partition goes: each source brings up to ``size`` keys,
        # most of them beyond it.
        result = rows(session, stmt, {"after": after or "", "n": size})
        try:
            for key, source in result.cursor:
                if key not in sources:
                    if len(sources) == size:
                        break
                    sources[key] = set()
                sources[key].add(source)
        finally:
            result.close()
        if not sources:
            return
        after = next(reversed(sources))
        keys = frozenset(k for k, found in sources.items() if found != {"e"} or is_sgtin_key(k))
        yield Partition(len(sources), keys, next(iter(sources)), after)
        if len(sources) < size:
            return


def _direct_statement(*, by_range: bool) -> Any:
    """The events naming some keys (a key range, or a list), as :func:`ledger.history.load_view` reads them: every
    non-declaration event, the parentID of an aggregation beside each child, and whether it was retracted.

    The range leaves the parentID out (NULL): a join for every row of a partition costs more than asking, after it,
    for the parents of the few aggregations its children were in (:data:`_PARENTS_OF`)."""
    declared, parent = aliased(Event), aliased(EventEpc)
    key = col(EventEpc.key)
    stmt = query(EventEpc.key, EventEpc.role, *_EVENT_COLUMNS, null() if by_range else parent.key, declared.id).join(
        Event, and_(col(Event.id) == col(EventEpc.event_pk), col(Event.declaration).is_(False))
    )
    if not by_range:
        stmt = stmt.outerjoin(parent, and_(col(parent.event_pk) == col(EventEpc.event_pk), col(parent.role) == "parent",
                                           col(EventEpc.role) == "child"))  # fmt: skip
    return stmt.outerjoin(
        declared, and_(col(declared.event_id) == col(Event.event_id), col(declared.declaration).is_(True))
    ).where(and_(key >= bindparam("lo"), key <= bindparam("hi")) if by_range else key.in_(_VALUES))


_EVENT_COLUMNS = (
    Event.id, Event.event_id, Event.event_time, Event.event_type, Event.action, Event.biz_step,
    Event.location_party_id, Event.source_party_id, Event.destination_party_id, Event.origin,
)  # fmt: skip
_DIRECT_RANGE, _DIRECT_KEYS = _direct_statement(by_range=True), _direct_statement(by_range=False)
_PARENTS_OF = query(EventEpc.event_pk, EventEpc.key).where(
    col(EventEpc.event_pk).in_(_VALUES), col(EventEpc.role) == "parent"
)
_Raw = tuple[int, str, datetime, str, str | None, str | None, str | None, str | None, str | None, str]


def _plain_rows(session: Session, stmt: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A read's rows as the driver's own tuples, without result processing (as :func:`ledger.history.scan` reads
    them; :func:`~ledger.history.utc` reads either driver's timestamps): a partition's rows are many."""
    result = rows(session, stmt, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def load_partition(session: Session, part: Partition) -> FlowView:
    """The view of one partition's codes for the full re-evaluation: what :func:`load_view` holds for them (their
    events, their code records, every case or pallet that held them up the :data:`~ledger.history.MAX_DEPTH`
    levels with its events, their rejections), read with one range scan for the partition's own keys and lists for
    their containers; the EPCs as first captured are left for :func:`epcs_as_captured` to read, as it reads them
    for a view of the whole store."""
    view = FlowView()
    raw: dict[int, _Raw] = {}
    queried: set[str] = set()

    aggregated: set[int] = set()
    """Aggregations the range found children of: their parentIDs are read after it."""

    def take(found: Any) -> None:
        for key, role, pk, event_id, time, kind, action, step, at, source, to, origin, parent_key, declaration in found:
            if pk not in raw:
                raw[pk] = (pk, event_id, utc(time), kind, action, step, at, source, to, origin)
            view.direct.setdefault(key, []).append((pk, role))
            queried.add(key)
            if kind == "AggregationEvent":
                if parent_key is not None:
                    view.agg_parent.setdefault(pk, parent_key)
                elif role == "child":
                    aggregated.add(pk)
            if declaration is not None:
                view.retracted.add(event_id)

    frontier, expanded = set(part.keys), set[str]()
    if 2 * len(frontier) >= part.scanned:  # mostly codes to evaluate: the range in one scan
        take(_plain_rows(session, _DIRECT_RANGE, {"lo": part.first, "hi": part.last}))
        for pks in chunks(sorted(aggregated)):
            for pk, parent_key in _plain_rows(session, _PARENTS_OF, {"values": pks}):
                view.agg_parent.setdefault(pk, parent_key)
    for _level in range(ledger.MAX_DEPTH + 1):  # the codes, then each level of containers above them
        for chunk in chunks(sorted(frontier - queried)):
            take(_plain_rows(session, _DIRECT_KEYS, {"values": chunk}))
        queried |= frontier
        expanded |= frontier
        view.codes.update(code_facts(session, frontier - view.codes.keys()))
        # the containers one level up: by aggregation events (retracted ones too, as load_view finds them) and by
        # packing records
        above = {view.agg_parent[pk] for key in frontier for pk, role in view.direct.get(key, ())
                 if role == "child" and pk in view.agg_parent}  # fmt: skip
        above |= {facts.parent for key in frontier if (facts := view.codes.get(key)) and facts.parent}
        frontier = above - expanded
        if not frontier:
            break
    view.events = {pk: ledger.EventRow(*row, retracted=row[1] in view.retracted) for pk, row in raw.items()}
    # every key with counterfeit evidence between the first and the last is one of the partition's: one range read
    for key, pk, party, reason, received, epc in _plain_rows(
        session, _REJECTIONS_BETWEEN, {"lo": part.first, "hi": part.last}
    ):
        view.rejections.setdefault(key, []).append(Rejection(pk, party, reason, utc(received), epc))
    view.case_gtins = case_gtins(session)
    return view


# --- master data ----------------------------------------------------------------------------------------------------


def _masterdata_statements() -> tuple[Any, ...]:
    """Parties, territories and links, all of them and (with ``values``) those some parties need."""
    columns = (Party.id, Party.kind, Party.territory_id, Party.owner_id, Party.lat, Party.lon, Party.member_store_no)
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


@dataclass(frozen=True)
class _AllMasterData:
    """Every party, territory ancestry, authorisation and supply link: the process-wide cached value (read-only)."""

    parties: Mapping[str, PartyInfo]
    parents: Mapping[str, str | None]
    ancestors: Mapping[str, frozenset[str]]
    authorised: Mapping[str, frozenset[str]]
    suppliers: Mapping[str, frozenset[str]]
    """Store → its distributors."""


_Rows = tuple[dict[str, PartyInfo], dict[str, str | None], dict[str, frozenset[str]], set[tuple[str, str]]]


def _fetch_rows(session: Session, params: dict[str, Any] | None) -> _Rows:
    party_stmt, territory_stmt, links = _MASTERDATA_ALL if params is None else _MASTERDATA_SOME
    infos = {
        pid: PartyInfo(str(kind), territory, owner, lat, lon, member_no is not None and member_no.strip() != "")
        for pid, kind, territory, owner, lat, lon, member_no in rows(session, party_stmt, params)
    }
    parents: dict[str, str | None] = dict(rows(session, territory_stmt, params).all())
    authorised: dict[str, set[str]] = {}
    suppliers: set[tuple[str, str]] = set()
    for link, a, b in rows(session, links, params):
        if link == "a":
            authorised.setdefault(a, set()).add(b)
        else:
            suppliers.add((a, b))
    return infos, parents, {p: frozenset(t) for p, t in authorised.items()}, suppliers


def _fetch_masterdata(session: Session, params: dict[str, Any]) -> MasterData:
    infos, parents, authorised, suppliers = _fetch_rows(session, params)
    return MasterData(parties=infos, ancestors=_ancestors(parents), authorised=authorised, suppliers=suppliers)


def _ancestors(parents: Mapping[str, str | None]) -> dict[str, frozenset[str]]:
    ancestors: dict[str, frozenset[str]] = {}
    for territory in parents:
        chain: list[str] = []
        node: str | None = territory
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
        ancestors[territory] = frozenset(chain)
    return ancestors


def _fetch_all(session: Session) -> _AllMasterData:
    infos, parents, authorised, suppliers = _fetch_rows(session, None)
    by_store: dict[str, set[str]] = {}
    for store, distributor in suppliers:
        by_store.setdefault(store, set()).add(distributor)
    return _AllMasterData(
        parties=MappingProxyType(infos),
        parents=MappingProxyType(parents),
        ancestors=MappingProxyType(_ancestors(parents)),
        authorised=MappingProxyType(authorised),
        suppliers=MappingProxyType({s: frozenset(d) for s, d in by_store.items()}),
    )


def _subset(everything: _AllMasterData, parties: Iterable[str] | None) -> MasterData:
    """A fresh :class:`MasterData` (its own dicts) of what ``parties`` need, as the ``_MASTERDATA_SOME`` SQL picks:
    the parties named, their owners up the chain, their territories up the tree, their authorisations and links."""
    if parties is None:
        involved: set[str] = set(everything.parties)
        territories: set[str] = set(everything.ancestors)
    else:
        involved = set()
        for party in parties:
            node: str | None = party
            while node is not None and node in everything.parties and node not in involved:
                involved.add(node)
                node = everything.parties[node].owner
        territories = set()
        for party in involved:
            tnode = everything.parties[party].territory
            while tnode is not None and tnode in everything.parents and tnode not in territories:
                territories.add(tnode)
                tnode = everything.parents[tnode]
    return MasterData(
        parties={p: everything.parties[p] for p in involved},
        ancestors={t: everything.ancestors[t] for t in territories},
        authorised={p: everything.authorised[p] for p in involved if p in everything.authorised},
        suppliers={(s, d) for s in involved for d in everything.suppliers.get(s, ())},
    )


def load_masterdata(session: Session, parties: Iterable[str] | None = None) -> MasterData:
    """Parties (with owners), territory ancestry, authorisations and supply links: all, or what ``parties`` need.

    Read from the process-wide cache (:mod:`ledger.masterdata`): one generation check instead of three queries;
    with the cache off, the same subset is read by SQL.
    """
    wanted = None if parties is None else sorted(set(parties))
    if wanted is not None and not wanted:
        return MasterData(parties={}, ancestors={}, authorised={}, suppliers=set())
    if not masterdata.enabled():
        if wanted is None:
            return _subset(_fetch_all(session), None)
        return _fetch_masterdata(session, {"values": wanted})
    return _subset(masterdata.cached(session, "flow_graph.history.masterdata", _fetch_all), wanted)


def epcs_as_captured(session: Session, view: FlowView, keys: Iterable[str]) -> dict[str, str]:
    """Each code's EPC as first captured (earliest event naming it); for scans only, the scanned code's key."""
    wanted = sorted(set(keys))
    best: dict[str, tuple[datetime, str, str]] = {k: view.first_epc[k] for k in wanted if k in view.first_epc}
    missing = [k for k in wanted if k not in best] if not view.by_key else []
    for chunk in chunks(missing):
        stmt = (
            query(EventEpc.key, EventEpc.epc, Event.event_time, Event.event_id)
            .join(Event, col(Event.id) == col(EventEpc.event_pk))
            .where(col(EventEpc.key).in_(chunk), col(Event.declaration).is_(False), col(EventEpc.role) != "quantity")
        )
        for key, epc, time, event_id in rows(session, stmt):
            if event_id in view.retracted:
                continue
            candidate = (utc(time), event_id, epc)
            if key not in best or candidate < best[key]:
                best[key] = candidate
    out = {k: v[2] for k, v in best.items()}
    for key in wanted:
        if key not in out:
            rejections = view.rejections.get(key)
            out[key] = min(rejections, key=lambda r: r.id).epc if rejections else key
    return out
