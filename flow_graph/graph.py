"""The party graph and the auditor's views over the store: a unit's trail, leak analysis, top leaks, exports.

The graph is small on purpose: its nodes are parties and its edges shipments aggregated to units moved per product
and month, so it stays a few thousand edges however many units flow. Unit-level history stays in the database and is
read per question (a trail, the paths of one distributor's diverted units).
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import networkx as nx
from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col

from flow_graph.errors import PartyNotFound, UnitNotFound
from flow_graph.history import epcs_as_captured, is_unit, load_everything, load_masterdata, load_view
from flow_graph.rules import attribute
from flow_graph.service import AlertFilter, list_alerts, utc
from ledger.history import DIRECT_ROLES, codes_for_keys, containers_of, no_gc, query, sightings_of
from ledger.keys import gtin_of, key_of
from traceability.i18n import Catalogue, messages
from traceability.models import Alert, AlertKind, AlertStatus, Event, Party

_WORDS: Catalogue = messages("flow_graph.graph")

__all__ = [
    "COUNTING",
    "DIVERSION",
    "LeakReport",
    "LeakSummary",
    "Trail",
    "TrailStep",
    "build_party_graph",
    "graph_document",
    "graph_json",
    "graphml_document",
    "leak_report",
    "top_leaks",
    "unit_trail",
    "write_graphml",
]

COUNTING = (AlertStatus.open, AlertStatus.investigating, AlertStatus.confirmed)
"""Alerts that count against a distributor: not dismissed by an auditor, not withdrawn by the system."""
DIVERSION = (AlertKind.out_of_territory, AlertKind.unauthorized_channel)


def _month(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


# --- the party graph ----------------------------------------------------------------------------------------------


def build_party_graph(
    *, session: Session, since: datetime | None = None, until: datetime | None = None, gtin: str | None = None
) -> nx.DiGraph:
    """Parties as nodes; an edge per shipping lane with the units moved (cases count for their contents).

    Edge attributes: ``units``, ``shipments`` and ``flows`` (units per ``"<gtin>|<YYYY-MM>"``). Node attributes:
    the party's master data, ``alerts`` (active alerts at the place) and ``diverted_units`` (as responsible).
    """
    since, until = utc(since), utc(until)
    # Shipments and the packing they need; the period is applied below (the scan takes constant conditions only).
    with no_gc():
        view = load_everything(
            session, only=or_(col(Event.event_type) == "AggregationEvent", col(Event.biz_step) == "shipping")
        )

    # Which units each case or pallet held, and when, from the units' side (the containment unit state uses).
    inside: dict[str, list[tuple[str, datetime | None, datetime | None]]] = defaultdict(list)
    named: dict[int, list[str]] = defaultdict(list)
    for key, refs in view.direct.items():
        for pk, role in refs:
            e = view.events[pk]
            if e.biz_step == "shipping" and role in DIRECT_ROLES:
                named[pk].append(key)
        if any(role == "child" for _, role in refs) and is_unit(view, key):
            for container, start, end in containers_of(view, key):
                inside[container].append((key, start, end))
    for key, facts in view.codes.items():
        if facts.parent is not None and key not in view.direct and is_unit(view, key):
            for container, start, end in containers_of(view, key):
                inside[container].append((key, start, end))

    graph = nx.DiGraph()
    for pid, kind, name, territory, lat, lon in session.execute(
        query(Party.id, Party.kind, Party.name, Party.territory_id, Party.lat, Party.lon)
    ):
        attrs = {"kind": str(kind), "name": name, "territory": territory, "lat": lat, "lon": lon}
        graph.add_node(pid, **{k: v for k, v in attrs.items() if v is not None}, alerts=0, diverted_units=0)
    for pk, keys in named.items():
        e = view.events[pk]
        sender, receiver = e.source or e.location, e.destination
        if e.retracted or not sender or not receiver or sender == receiver:
            continue
        if (since is not None and e.time < since) or (until is not None and e.time >= until):
            continue
        units: set[str] = {k for k in keys if is_unit(view, k)}
        for k in keys:
            for unit, start, end in inside.get(k, ()):
                if (start is None or e.time >= start) and (end is None or e.time < end):
                    units.add(unit)
        flows = Counter(f"{gtin_of(u)}|{_month(e.time)}" for u in units if gtin is None or gtin_of(u) == gtin)
        if not flows:
            continue
        for node in (sender, receiver):
            if node not in graph:
                graph.add_node(node, kind="unknown", alerts=0, diverted_units=0)
        data = graph.get_edge_data(sender, receiver)
        if data is None:
            graph.add_edge(sender, receiver, units=0, shipments=0, flows={})
            data = graph.edges[sender, receiver]
        data["units"] += sum(flows.values())
        data["shipments"] += 1
        for lane, n in flows.items():
            data["flows"][lane] = data["flows"].get(lane, 0) + n
    _annotate(session, graph)
    return graph


def _annotate(session: Session, graph: nx.DiGraph) -> None:
    active = [s.value for s in COUNTING]
    here = query(Alert.party_id, func.count()).where(col(Alert.status).in_(active)).group_by(col(Alert.party_id))
    for party, n in session.execute(here):
        if party in graph:
            graph.nodes[party]["alerts"] = int(n)
    diverted = (
        query(Alert.responsible_distributor_id, func.count(func.distinct(Alert.unit_key)))
        .where(col(Alert.status).in_(active), col(Alert.kind).in_([k.value for k in DIVERSION]))
        .group_by(col(Alert.responsible_distributor_id))
    )
    for party, n in session.execute(diverted):
        if party in graph:
            graph.nodes[party]["diverted_units"] = int(n)


def graph_document(
    *, session: Session, since: datetime | None = None, until: datetime | None = None, gtin: str | None = None
) -> dict[str, Any]:
    """The party graph as node-link JSON."""
    return graph_json(build_party_graph(session=session, since=since, until=until, gtin=gtin))


def graphml_document(
    *, session: Session, since: datetime | None = None, until: datetime | None = None, gtin: str | None = None
) -> bytes:
    """The party graph as GraphML bytes."""
    out = io.BytesIO()
    write_graphml(build_party_graph(session=session, since=since, until=until, gtin=gtin), out)
    return out.getvalue()


def write_graphml(graph: nx.DiGraph, out: IO[bytes]) -> None:
    """GraphML for desktop tools (Gephi, yEd, Cytoscape); the per-lane flows become a JSON string attribute."""
    plain = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        plain.add_node(node, **{k: v for k, v in data.items() if v is not None})
    for a, b, data in graph.edges(data=True):
        plain.add_edge(a, b, units=data["units"], shipments=data["shipments"],
                       flows=json.dumps(data["flows"], sort_keys=True))  # fmt: skip
    nx.write_graphml(plain, out)


def graph_json(graph: nx.DiGraph) -> dict[str, Any]:
    """``{"nodes": [...], "links": [...]}``: the shape browser graph libraries (d3-force, Cytoscape.js) read."""
    nodes = [{"id": node, **data} for node, data in sorted(graph.nodes(data=True))]
    links = [
        {"source": a, "target": b, "units": d["units"], "shipments": d["shipments"],
         "flows": dict(sorted(d["flows"].items()))}
        for a, b, d in sorted(graph.edges(data=True), key=lambda x: (x[0], x[1]))
    ]  # fmt: skip
    return {
        "directed": True,
        "nodes": nodes,
        "links": links,
        "units": sum(link["units"] for link in links),
    }


# --- a unit's trail -----------------------------------------------------------------------------------------------


@dataclass
class TrailStep:
    time: datetime
    event_id: str
    event_type: str
    action: str | None
    biz_step: str | None
    location: str | None
    source: str | None
    destination: str | None
    via: str | None
    """The case or pallet through which the event reached the unit; None when it names the unit."""
    retracted: bool
    responsible_distributor: str | None


@dataclass
class Trail:
    key: str
    epc: str
    status: str | None
    holder: str | None
    issued: bool
    steps: list[TrailStep]
    alerts: list[Alert] = field(default_factory=list)


def unit_trail(*, session: Session, epc: str) -> Trail:
    """Everything that happened to one unit, in event-time order (retracted events flagged), with its alerts."""
    key = key_of(epc)
    view = load_view(session, [key])
    if key not in view.direct and key not in view.rejections:
        raise UnitNotFound.keyed(_WORDS, "no_unit", epc=epc, detail={"epc": epc})
    md = load_masterdata(session, view.parties())
    everything = sightings_of(view, key, include_retracted=True)
    counted = [s for s in everything if not s.event.retracted]
    responsible = {s.event.pk: (a[0] if a else None) for s, a in zip(counted, attribute(counted, md), strict=True)}
    steps = [
        TrailStep(
            time=e.time,
            event_id=e.event_id,
            event_type=e.event_type,
            action=e.action,
            biz_step=e.biz_step,
            location=e.location,
            source=e.source,
            destination=e.destination,
            via=s.via,
            retracted=e.retracted,
            responsible_distributor=responsible.get(e.pk),
        )  # fmt: skip
        for s in everything
        for e in (s.event,)
    ]
    code = codes_for_keys(session, [key]).get(key)
    alerts = list_alerts(session=session, filters=AlertFilter(epc=key, status=list(AlertStatus)))
    return Trail(
        key=key,
        epc=epcs_as_captured(session, view, [key])[key],
        status=str(code.status) if code else None,
        holder=code.holder_id if code else None,
        issued=bool(code and (code.key_id or code.batch_id)),
        steps=steps,
        alerts=alerts,
    )


# --- leak analysis ------------------------------------------------------------------------------------------------


@dataclass
class LeakReport:
    """Where one distributor's goods surfaced outside its channel, and how they got there."""

    distributor: str
    diverted_units: int
    alerts: int
    by_territory: list[tuple[str, int]]
    by_place: list[tuple[str, int]]
    paths: list[tuple[list[str], int]]
    intermediaries: list[tuple[str, int]]
    edges: list[tuple[str, str, int]]


def _diversion_alerts(
    session: Session, distributor: str | None, since: datetime | None, until: datetime | None
) -> list[Alert]:
    filters = AlertFilter(
        kind=list(DIVERSION), status=list(COUNTING), distributor=distributor, since=since, until=until
    )
    return list_alerts(session=session, filters=filters)


def _ranked(counts: dict[str, set[str]], limit: int | None = None) -> list[tuple[str, int]]:
    ranked = sorted(((k, len(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:limit] if limit is not None else ranked


def _path(distributor: str, steps: Iterable[Any]) -> list[str]:
    """The parties a unit passed through while ``distributor`` was responsible for it, from it onwards."""
    path = [distributor]
    for e in steps:
        hops = [e.source or e.location, e.destination] if e.biz_step == "shipping" else [e.location]
        for party in hops:
            if party and party != path[-1]:
                path.append(party)
    return path


def leak_report(
    *, session: Session, distributor: str, since: datetime | None = None, until: datetime | None = None,
    limit: int = 20,
) -> LeakReport:  # fmt: skip
    """Diverted units of a distributor by the territory and place where they surfaced, the paths they took and the
    parties in between."""
    if session.get(Party, distributor) is None:
        raise PartyNotFound.keyed(_WORDS, "no_party", party=distributor, detail={"party": distributor})
    alerts = _diversion_alerts(session, distributor, since, until)
    units = {a.unit_key for a in alerts}
    by_territory: dict[str, set[str]] = defaultdict(set)
    by_place: dict[str, set[str]] = defaultdict(set)
    for a in alerts:
        by_territory[a.territory_id or "?"].add(a.unit_key)
        by_place[a.party_id or "?"].add(a.unit_key)
    paths: Counter[tuple[str, ...]] = Counter()
    between: dict[str, set[str]] = defaultdict(set)
    edges: Counter[tuple[str, str]] = Counter()
    if units:
        view = load_view(session, units)
        md = load_masterdata(session, view.parties())
        for key in sorted(units):
            sightings = sightings_of(view, key)
            timeline = attribute(sightings, md)
            own = [
                s.event for s, a in zip(sightings, timeline, strict=True)
                if a is not None and a[0] == distributor and not md.brand_owned(s.event.source or s.event.location)
            ]  # fmt: skip
            path = _path(distributor, own)
            paths[tuple(path)] += 1
            for party in path[1:-1]:
                between[party].add(key)
            for hop in zip(path, path[1:], strict=False):
                edges[hop] += 1
    return LeakReport(
        distributor=distributor,
        diverted_units=len(units),
        alerts=len(alerts),
        by_territory=_ranked(by_territory),
        by_place=_ranked(by_place, limit),
        paths=[(list(p), n) for p, n in sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]],
        intermediaries=_ranked(between, limit),
        edges=[(a, b, n) for (a, b), n in sorted(edges.items(), key=lambda kv: (-kv[1], kv[0]))],
    )


@dataclass
class LeakSummary:
    distributor: str
    diverted_units: int
    alerts: int
    territories: list[tuple[str, int]]


def top_leaks(
    *, session: Session, limit: int = 10, since: datetime | None = None, until: datetime | None = None
) -> list[LeakSummary]:
    """Distributors ranked by diverted units across the network, each with the territories its goods surfaced in."""
    where: list[ColumnElement[bool]] = [
        col(Alert.kind).in_([k.value for k in DIVERSION]),
        col(Alert.status).in_([s.value for s in COUNTING]),
        col(Alert.responsible_distributor_id).is_not(None),
    ]
    if since is not None:
        where.append(col(Alert.first_seen) >= utc(since))
    if until is not None:
        where.append(col(Alert.first_seen) < utc(until))
    units = func.count(func.distinct(Alert.unit_key))
    ranked = session.execute(
        query(Alert.responsible_distributor_id, units, func.count())
        .where(*where)
        .group_by(col(Alert.responsible_distributor_id))
        .order_by(units.desc(), col(Alert.responsible_distributor_id))
        .limit(limit)
    ).all()
    leaders = [d for d, _, _ in ranked]
    territories: dict[str, list[tuple[str, int]]] = defaultdict(list)
    if leaders:
        rows = session.execute(
            query(Alert.responsible_distributor_id, Alert.territory_id, units)
            .where(*where, col(Alert.responsible_distributor_id).in_(leaders))
            .group_by(col(Alert.responsible_distributor_id), col(Alert.territory_id))
        ).all()
        for d, territory, n in sorted(rows, key=lambda r: (r[0], -r[2], r[1] or "")):
            territories[d].append((territory or "?", int(n)))
    return [
        LeakSummary(distributor=d, diverted_units=int(n), alerts=int(a), territories=territories[d][:5])
        for d, n, a in ranked
    ]
