"""The party graph (cases count for their contents), a unit's trail, leak analysis, top leaks and the exports."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import networkx as nx
import pytest
from sqlmodel import Session

from flow_graph import graph
from flow_graph.errors import PartyNotFound, UnitNotFound
from tests.factories import GTIN, seed_masterdata
from tests.flow_graph.helpers import capture, case, ev, made, retract, unit

LANE = f"{GTIN}|2026-04"


@pytest.fixture
def network(session: Session) -> Session:
    """Five units to D-GZ: a case of three leaks to Nanjing (one unit reaches a store), two go to its own store."""
    seed_masterdata(session)
    wrong = ev(7, "shipping", [unit(10)], "D-GZ", 30, dest="S-NJ-1")
    capture(
        session,
        *made(1, 3, packed_in=1), *made(10, 2),
        ev(1, "shipping", [case(1)], "PLANT-1", 2, dest="D-GZ"),
        ev(2, "shipping", [unit(10), unit(11)], "PLANT-1", 3, dest="D-GZ"),
        ev(3, "shipping", [case(1)], "D-GZ", 30, dest="D-NJ"),
        ev(8, "receiving", [case(1)], "D-NJ", 40),
        ev(4, "shipping", [unit(1)], "D-NJ", 50, dest="S-NJ-1"),
        ev(5, "shipping", [unit(10), unit(11)], "D-GZ", 31, dest="S-GZ-1"),
        ev(6, "retail_selling", [unit(1)], "S-NJ-1", 70),
        wrong, retract(wrong),
    )  # fmt: skip
    return session


def test_party_graph_counts_units_per_lane(network: Session) -> None:
    g = graph.build_party_graph(session=network)
    lanes = {(a, b): (d["units"], d["shipments"], d["flows"]) for a, b, d in g.edges(data=True)}
    assert lanes == {
        ("PLANT-1", "D-GZ"): (5, 2, {LANE: 5}),
        ("D-GZ", "D-NJ"): (3, 1, {LANE: 3}),
        ("D-NJ", "S-NJ-1"): (1, 1, {LANE: 1}),
        ("D-GZ", "S-GZ-1"): (2, 1, {LANE: 2}),
    }  # the retracted shipment to S-NJ-1 is not a lane
    assert g.number_of_nodes() == 8 and g.nodes["D-NJ"]["kind"] == "distributor"
    assert g.nodes["D-GZ"]["diverted_units"] == 3 and g.nodes["D-NJ"]["alerts"] == 3
    assert graph.build_party_graph(session=network, gtin="00000000000000").number_of_edges() == 0
    later = graph.build_party_graph(session=network, since=datetime(2026, 4, 2, tzinfo=UTC))
    assert set(later.edges) == {("D-GZ", "D-NJ"), ("D-NJ", "S-NJ-1"), ("D-GZ", "S-GZ-1")}


def test_exports_read_back(network: Session) -> None:
    document = graph.graph_document(session=network)
    assert document["units"] == 11 and len(document["links"]) == 4 and len(document["nodes"]) == 8
    assert {"source": "D-GZ", "target": "D-NJ", "units": 3, "shipments": 1, "flows": {LANE: 3}} in document["links"]
    back = nx.read_graphml(io.BytesIO(graph.graphml_document(session=network)))
    assert back.edges["D-NJ", "S-NJ-1"]["units"] == 1 and back.nodes["S-NJ-1"]["territory"] == "CN-32-01"


def test_trail_of_a_unit(network: Session) -> None:
    trail = graph.unit_trail(session=network, epc=f"https://id.gs1.org/01/{GTIN}/21/T00001")
    steps = [(s.biz_step, s.via is not None, s.responsible_distributor) for s in trail.steps]
    assert steps == [
        ("commissioning", False, None), ("packing", False, None), ("shipping", True, "D-GZ"),
        ("shipping", True, "D-GZ"), ("receiving", True, "D-GZ"), ("shipping", False, "D-GZ"),
        ("retail_selling", False, "D-GZ"),
    ]  # fmt: skip
    assert trail.epc == unit(1) and {(str(a.kind), a.party_id) for a in trail.alerts} == {
        ("out_of_territory", "D-NJ"), ("out_of_territory", "S-NJ-1")}  # fmt: skip
    retracted = graph.unit_trail(session=network, epc=unit(10))
    assert [s.retracted for s in retracted.steps if s.biz_step == "shipping"] == [False, True, False]
    with pytest.raises(UnitNotFound):
        graph.unit_trail(session=network, epc=unit(99))


def test_leak_analysis_and_top_leaks(network: Session) -> None:
    report = graph.leak_report(session=network, distributor="D-GZ")
    assert (report.diverted_units, report.alerts) == (3, 4)
    assert report.by_territory == [("CN-32-01", 3)]
    assert report.by_place == [("D-NJ", 3), ("S-NJ-1", 1)]
    assert report.paths == [(["D-GZ", "D-NJ"], 2), (["D-GZ", "D-NJ", "S-NJ-1"], 1)]
    assert report.intermediaries == [("D-NJ", 1)]
    assert report.edges == [("D-GZ", "D-NJ", 3), ("D-NJ", "S-NJ-1", 1)]
    assert graph.leak_report(session=network, distributor="D-NJ").diverted_units == 0
    (top,) = graph.top_leaks(session=network)
    assert (top.distributor, top.diverted_units, top.alerts, top.territories) == ("D-GZ", 3, 4, [("CN-32-01", 3)])
    with pytest.raises(PartyNotFound):
        graph.leak_report(session=network, distributor="NOBODY")
